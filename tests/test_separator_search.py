"""Re-checking separator floors by searching their zero sets: the projections land on the
zero sets, true floors pass, and a floor set too high is found out as a contradiction."""
from dataclasses import replace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sublevel.checks.counting.chains import chain_separators
from sublevel.checks.counting.separator_search import project, recheck_floors, search_zero_set
from sublevel.checks.counting.separators import linear_separators, reduced_rank_floor
from sublevel.theory import Architecture, Problem
from sublevel.theory.errors import Contradiction
from sublevel.theory.strategies import matrices, scales


def _separators(spec: str, x, y) -> tuple[Problem, list]:
    arch = Architecture.parse(spec, "linear", bias=False)
    problem = Problem(arch, x, y)
    return problem, chain_separators(problem) + linear_separators(problem)


@given(spec=st.sampled_from(["1-1-1", "2-2-2", "3-1-2", "2-1-1", "2-2-1-2"]), samples=st.integers(3, 8),
       scale=scales(), data=st.data())
@settings(max_examples=50, deadline=None)
def test_true_floors_pass_and_raised_floors_are_caught(spec, samples, scale, data):
    arch = Architecture.parse(spec, "linear", bias=False)
    problem, separators = _separators(spec, data.draw(matrices(samples, arch.widths[0])),
                                      data.draw(matrices(samples, arch.widths[-1], scale)))
    for separator in separators:
        theta = arch.init(3, generator=torch.Generator().manual_seed(0))
        on_set = torch.stack([project(separator, problem, t) for t in theta])
        values = separator.values(arch, on_set)
        assert values.abs().max() <= 1e-9 * (1 + on_set.norm(dim=1).max()) ** arch.depth
        found = search_zero_set(problem, separator)
        zero = float(problem.y.square().sum() / samples)
        assert found.least >= separator.floor - 1e-9 * max(zero, separator.floor)
        recheck_floors(problem, [separator], [0.0])  # never a contradiction for a proven floor
        # The least loss on the zero set is well below L(0) + the floor gap for these problems:
        # a floor raised above what the search reaches is a contradiction.
        raised = replace(separator, floor=found.least * 1.01 + 1e-6 * zero)
        if found.least > 0:
            with pytest.raises(Contradiction):
                recheck_floors(problem, [raised], [0.0])


def test_floors_inactive_above_every_level_are_not_searched():
    x = torch.randn(10, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    problem, separators = _separators("2-2-2", x, x @ torch.tensor([[1.0, 0.5], [0.0, 2.0]], dtype=torch.float64))
    assert separators
    assert recheck_floors(problem, separators, [max(s.floor for s in separators) * 2]) == []


def test_determinant_floor_is_attained_on_its_zero_set():
    """The reduced-rank floor c_1 of 2-2-2 is attained (Eckart-Young), so the search gets to it."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(12, 2, dtype=torch.float64, generator=g)
    y = torch.randn(12, 2, dtype=torch.float64, generator=g)
    problem, separators = _separators("2-2-2", x, y)
    for separator in separators:
        found = search_zero_set(problem, separator)
        assert found.least == pytest.approx(reduced_rank_floor(problem, 1), rel=1e-7)
