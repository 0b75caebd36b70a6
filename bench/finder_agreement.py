"""Do the path finders agree? Certified path maxima of every finder on the same pairs.

Pairs: G2's global and spurious minima (barrier (1 + a^2)/2 = 2.5 on the wall w = 0; level 2.51),
relu-permutation's teacher and its unit swap (no path below the certified floor rho*), and
minima of G1 with hidden width 2 and of a strict-width deep-linear net (connected at every
level: a finder that stays above max(L_A, L_B) + 0.1 misses a path that exists). A pair
"disagrees" when one finder certifies a path below the pair's level and another does not.

    python bench/finder_agreement.py
"""
from __future__ import annotations

import torch

from sublevel.checks.paths import finder_names, get_finder
from sublevel.constructions import construct
from sublevel.theory.networks import Architecture
from sublevel.theory.problems import Problem


def cases():
    g2 = construct("one-neuron")
    yield ("G2 global-spurious", g2.problem(g2.default_architecture()), torch.tensor([-1.0, 2.0]),
           torch.tensor([1.0, 1.0]), 2.51)
    perm = construct("relu-permutation")
    points = perm.points()
    floor = perm.metadata["separators"][0]["floor"]
    yield ("relu-permutation A-B", perm.problem(perm.default_architecture()), torch.as_tensor(points["theta_A"]),
           torch.as_tensor(points["theta_B"]), floor)
    g1 = construct("scalar-linear")
    problem = g1.problem(Architecture((1, 2, 1), "linear", bias=False))
    g = torch.Generator().manual_seed(0)
    for k in range(3):
        a, b = torch.randn(2, 2, generator=g, dtype=torch.float64)
        yield (f"G1 width 2, pair {k}", problem, torch.cat([a, a / a.dot(a)]), torch.cat([b, b / b.dot(b)]), 0.1)
    x, y = torch.randn(8, 2, generator=g, dtype=torch.float64), torch.randn(8, 1, generator=g, dtype=torch.float64)
    deep = Problem(Architecture((2, 3, 1), "linear", bias=False), x, y)
    w_star = torch.linalg.lstsq(x, y).solution.T
    for k in range(3):
        w1a, w1b = torch.randn(2, 3, 2, generator=g, dtype=torch.float64)
        a, b = (deep.architecture.flatten([w1, w_star @ torch.linalg.pinv(w1)]) for w1 in (w1a, w1b))
        yield (f"deep linear 2-3-1, pair {k}", deep, a, b, float(deep.loss(a)) + 0.1)


def main() -> None:
    names = finder_names()
    print(f"{'pair':28s} {'level':>8s}  " + "  ".join(f"{n:>16s}" for n in names) + "  agree")
    for label, problem, a, b, level in cases():
        paths = [get_finder(n)(problem, a, b, level) for n in names]
        inside = [p.inside(level) for p in paths]
        cells = "  ".join(f"{p.maximum:>10.4g} {'in ' if ok else 'out'}({p.num_segments:>2d})"
                          for p, ok in zip(paths, inside))
        print(f"{label:28s} {level:>8.4g}  {cells}  {'yes' if len(set(inside)) == 1 else 'NO'}")
    print("cells: certified path maximum, in/out of Omega(level), (segments); each finder's target is the level")


if __name__ == "__main__":
    main()
