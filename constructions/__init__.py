"""What makes a claim bite: data sets, adversarial constructions and their certificates."""
from constructions.certificates import Separator
from constructions.datasets import Dataset
from constructions.registry import all_families, construct, get_family

__all__ = ["Dataset", "Separator", "all_families", "construct", "get_family"]
