"""G1 and G2, the exact ground truths: the proven bounds must meet at the known counts.

Levels are taken inside each interval of constant N_lambda and at its breaks.
"""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sublevel.checks.counting.datasets import count_dataset
from sublevel.checks.counting.sampling import SampleSettings
from sublevel.constructions import construct
from sublevel.theory import Architecture

FAST = SampleSettings(starts=32, steps=200, max_points=800)


def counts(dataset, arch, levels):
    result = count_dataset(dataset, arch, levels, settings=FAST)
    return [(b.lower, b.upper, b.status) for b in result.brackets]


def certified(values):
    return [(n, n, "exact") for n in values]


@pytest.mark.parametrize("target", [1.0, 2.0, -1.5])
def test_g1_two_branches_below_target_squared(target):
    data = construct("scalar-linear", target=target)
    t2 = target * target
    levels = [0.01 * t2, 0.5 * t2, 0.99 * t2, t2, 1.01 * t2, 3 * t2]
    assert counts(data, data.default_architecture(), levels) == certified([2, 2, 2, 1, 1, 1])


def test_g1_width_two_is_connected_at_every_level():
    """Width 2 is connected (Freeman & Bruna, Prop. 2.2), but nothing here proves an upper bound:
    the sampled graph must find one component, and the count must stay a lower bound."""
    data = construct("scalar-linear", target=1.0)
    arch = Architecture.parse("1-2-1", "linear", bias=False)
    result = count_dataset(data, arch, [0.02, 0.3, 0.7, 0.99, 1.0, 1.5], settings=FAST)
    assert [(b.lower, b.sampled, b.upper, b.status) for b in result.brackets] == [(1, 1, None, "lower bound")] * 6


def test_g2_spurious_valley():
    a = 2.0
    data = construct("one-neuron", a=a)
    levels = [0.25, 0.6, 1.2, 1.9, 2.05, 2.25, 2.45, 2.6, 4.0]
    assert counts(data, data.default_architecture(), levels) == certified([0, 1, 1, 1, 2, 2, 2, 1, 1])


def test_g2_symmetric_case_has_two_global_components():
    data = construct("one-neuron", a=1.0)
    assert counts(data, data.default_architecture(), [0.6, 0.9, 1.2]) == certified([2, 2, 1])


@given(a=st.floats(1.3, 2.5), fractions=st.lists(st.floats(0.15, 0.85), min_size=3, max_size=3))
@settings(max_examples=4, deadline=None)
def test_g2_property_random_a_and_levels(a, fractions):
    """Random a > 1 and a random level inside each of the three intervals above 1/2."""
    data = construct("one-neuron", a=a)
    low, mid, wall = 0.5, a * a / 2, (1 + a * a) / 2
    levels = [low + fractions[0] * (mid - low), mid + fractions[1] * (wall - mid), wall * (1 + fractions[2])]
    assert counts(data, data.default_architecture(), levels) == certified([1, 2, 1])


def test_lower_bound_never_exceeds_truth_when_sampling_is_poor():
    """With a single start the graph sees one branch; the bracket must not claim 2 (nor more)."""
    data = construct("scalar-linear")
    result = count_dataset(data, data.default_architecture(), [0.5],
                           settings=SampleSettings(starts=1, steps=100, seed=3))
    (b,) = result.brackets
    assert (b.lower, b.upper, b.status) == (2, 2, "exact")


def test_certificate_is_needed_for_the_lower_bound():
    """Without the separator (another architecture key) G1's lower bound drops to 1: a bracket."""
    data = construct("scalar-linear")
    arch = data.default_architecture()
    result = count_dataset(data, Architecture(arch.widths, arch.activation, bias=True), [0.5], settings=FAST)
    assert result.brackets[0].lower == 1


def test_merge_forest_graphml(tmp_path):
    data = construct("one-neuron")
    result = count_dataset(data, data.default_architecture(), [2.2], settings=FAST)
    path = tmp_path / "forest.graphml"
    result.forest.write_graphml(path)
    import networkx as nx

    graph = nx.read_graphml(path)
    assert graph.number_of_nodes() == len(result.forest.losses)
    assert nx.number_connected_components(graph) == result.brackets[0].sampled
    assert all(float(d["barrier"]) <= 2.2 for _, _, d in graph.edges(data=True))


def test_counts_are_reproducible():
    data = construct("one-neuron")
    arch = data.default_architecture()
    one = count_dataset(data, arch, [2.2], settings=FAST)
    two = count_dataset(data, arch, [2.2], settings=FAST)
    assert one.to_json() == two.to_json()
    torch.testing.assert_close(one.forest.points, two.forest.points, rtol=0, atol=0)
