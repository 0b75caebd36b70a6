"""What makes a claim bite: data sets, adversarial constructions and their certificates."""
from sublevel.constructions.certificates import Separator
from sublevel.constructions.datasets import Dataset
from sublevel.constructions.registry import all_families, construct, get_family

__all__ = ["Dataset", "Separator", "all_families", "construct", "get_family"]
