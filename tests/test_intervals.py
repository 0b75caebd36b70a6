"""The interval library: every box it returns encloses the true values (ReLU and square
activations, their forward-mode derivatives, products and affine maps), drawn over centres,
radii and scales so that a failure shrinks to a small case."""
import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sublevel.checks.certify.intervals import box_activation, box_affine, box_mul

DELTA = 1e-12
values = st.floats(-10.0, 10.0)
radii = st.floats(0.0, 10.0)


def _inside(v: torch.Tensor, box) -> bool:
    c, r = box
    return bool(((v - c).abs() <= r * (1 + 1e-12) + 1e-300).all())


def _points(c: float, r: float, count: int = 9) -> torch.Tensor:
    return torch.linspace(c - r, c + r, count, dtype=torch.float64)


@settings(max_examples=100, deadline=None)
@given(c=values, r=radii, dc=values, dr=radii, kind=st.sampled_from(["relu", "quadratic"]))
def test_activation_and_derivative_boxes_enclose_the_true_values(c, r, dc, dr, kind):
    """For z in [c - r, c + r] and dz in [dc - dr, dc + dr]: sigma(z) in the value box and
    sigma'(z) dz in the derivative box (ReLU at z = 0 has the whole Clarke range [0, 1])."""
    z = (torch.tensor([c], dtype=torch.float64), torch.tensor([r], dtype=torch.float64))
    dz = (torch.tensor([dc], dtype=torch.float64), torch.tensor([dr], dtype=torch.float64))
    value, (derivative,) = box_activation(z, [dz], kind, DELTA)
    for zi in _points(c, r):
        for di in _points(dc, dr, 5):
            if kind == "relu":
                assert _inside(torch.relu(zi), value)
                slopes = [0.0, 1.0] if zi == 0 else [float(zi > 0)]
                for s in slopes:
                    assert _inside(s * di, derivative), (float(zi), float(di), s, derivative)
            else:
                assert _inside(zi * zi, value)
                assert _inside(2 * zi * di, derivative)


@settings(max_examples=100, deadline=None)
@given(xc=values, xr=radii, yc=values, yr=radii)
def test_products_enclose_every_product(xc, xr, yc, yr):
    box = box_mul((torch.tensor([xc], dtype=torch.float64), torch.tensor([xr], dtype=torch.float64)),
                  (torch.tensor([yc], dtype=torch.float64), torch.tensor([yr], dtype=torch.float64)), DELTA)
    for x in _points(xc, xr, 5):
        for y in _points(yc, yr, 5):
            assert _inside(x * y, box)


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.sampled_from([1e-6, 1.0, 1e6]), uncertain=st.booleans())
def test_affine_maps_enclose_every_choice_inside_the_boxes(seed, scale, uncertain):
    g = np.random.default_rng(seed)
    wc = torch.tensor(g.normal(size=(1, 3, 4)) * scale)
    wr = torch.tensor(np.abs(g.normal(size=(1, 3, 4))) * scale * 0.1) if uncertain else None
    bc, br = torch.tensor(g.normal(size=(1, 3))), torch.tensor(np.abs(g.normal(size=(1, 3))) * 0.1)
    hc, hr = torch.tensor(g.normal(size=(1, 5, 4))), torch.tensor(np.abs(g.normal(size=(1, 5, 4))) * 0.1)
    box = box_affine(wc, wr, (bc, br), (hc, hr), DELTA)
    for _ in range(20):
        pick = lambda c, r: c + r * (2 * torch.tensor(g.random(size=c.shape)) - 1)  # noqa: E731
        w = wc if wr is None else pick(wc, wr)
        value = pick(hc, hr) @ w.transpose(-1, -2) + pick(bc, br).unsqueeze(-2)
        assert _inside(value, box)
