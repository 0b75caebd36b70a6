"""Separators: proof artefacts that certify disconnection.

A separator is a continuous function g(theta) together with a floor c, proven by the
construction, such that every theta with g(theta) = 0 has L(theta) >= c. Then for lambda < c
no path inside Omega(lambda) can cross g = 0, so points of Omega(lambda) with different signs
of g lie in different components. With several separators, the number of distinct sign
patterns among sampled points of Omega(lambda) is a rigorous lower bound on N_lambda.

Kinds:
- ``coordinate``: g = theta[index] (G1: g = w_1, floor = target^2; G2: g = w, floor (1+a^2)/2).
- ``determinant``: g = det W_layer for a square W_layer (ReLU teacher permutation,
  Freeman & Bruna 2017, section 2.3.1).
- ``hyperplane``: g = <W_L ... W_{layer+1}, u> for a hidden layer of width one, whose later
  layers multiply to one column, and a unit vector ``direction`` u (bias-free linear nets).

Each separator also names the architecture its proof is for; it is only applied to problems
with exactly that architecture.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from sublevel.theory.errors import InputError
from sublevel.theory.networks import Architecture


@dataclass(frozen=True)
class Separator:
    """g(theta) with proven floor: g(theta) = 0 implies L(theta) >= floor.

    Parameters
    ----------
    kind : {"coordinate", "determinant", "hyperplane"}
    floor : float
        Proven lower bound of L on the zero set of g.
    architecture : str
        Width spec (e.g. ``"1-1-1"``), activation and bias the proof assumes, as
        ``"1-1-1/relu/nobias"``.
    index : int
        Coordinate index (``coordinate``) or 1-based layer (``determinant``, ``hyperplane``).
    proof : str
        One sentence saying why the floor holds.
    direction : tuple of float
        The vector u of a ``hyperplane`` separator (length n_L); empty otherwise.
    """

    kind: str
    floor: float
    architecture: str
    index: int = 0
    proof: str = ""
    direction: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("coordinate", "determinant", "hyperplane"):
            raise InputError(f"unknown separator kind {self.kind!r}")
        object.__setattr__(self, "direction", tuple(float(v) for v in self.direction))
        if (self.kind == "hyperplane") != bool(self.direction):
            raise InputError("a hyperplane separator needs a direction, and only it has one")

    @staticmethod
    def architecture_key(architecture: Architecture) -> str:
        return f"{architecture.spec}/{architecture.activation_name}/{'bias' if architecture.bias else 'nobias'}"

    def applies_to(self, architecture: Architecture) -> bool:
        return self.architecture == self.architecture_key(architecture)

    def values(self, architecture: Architecture, theta: torch.Tensor) -> torch.Tensor:
        """g at each row of theta (K, P) -> (K,)."""
        if self.kind == "coordinate":
            return theta[..., self.index]
        if self.kind == "hyperplane":
            later = [layer.weight for layer in architecture.layers(theta)[self.index:]]
            if architecture.widths[self.index] != 1 or len(self.direction) != architecture.widths[-1]:
                raise InputError(f"hyperplane separator needs width 1 at layer {self.index} and a direction "
                                 f"of length n_L = {architecture.widths[-1]}")
            column = later[0]
            for weight in later[1:]:
                column = weight @ column
            return column[..., 0] @ torch.tensor(self.direction, dtype=theta.dtype, device=theta.device)
        weight = architecture.layers(theta)[self.index - 1].weight
        if weight.shape[-1] != weight.shape[-2]:
            raise InputError(f"determinant separator needs a square W_{self.index}, got {tuple(weight.shape[-2:])}")
        return torch.linalg.det(weight)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Separator":
        try:
            return cls(**data)
        except TypeError as err:
            raise InputError(f"bad separator in metadata: {err}") from None


def separators_for(metadata: dict, architecture: Architecture) -> list[Separator]:
    """The separators of a data set's metadata whose proofs apply to ``architecture``."""
    seps = [Separator.from_dict(item) for item in metadata.get("separators", [])]
    return [sep for sep in seps if sep.applies_to(architecture)]


def sign_patterns(separators: list[Separator], architecture: Architecture, theta: torch.Tensor,
                  level: float) -> torch.Tensor:
    """Sign pattern (K, S) of each point over the separators whose floor exceeds ``level``.

    Points with different rows lie in different components of Omega(level).
    """
    active = [sep for sep in separators if sep.floor > level]
    if not active:
        return torch.zeros(theta.shape[0], 0, dtype=torch.int8)
    columns = [torch.sign(sep.values(architecture, theta)).to(torch.int8) for sep in active]
    return torch.stack(columns, dim=1)
