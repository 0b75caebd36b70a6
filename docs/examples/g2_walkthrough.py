# %% [markdown]
# # A spurious valley, counted and proven
#
# G2 is the smallest spurious valley there is: one ReLU neuron without bias,
# H(x) = v relu(w x), on the data (1, 1) and (-1, a). With a = 2 the branch w < 0 holds the
# global minimum 1/2, the branch w > 0 a spurious valley with minimum a^2/2 = 2, and the line
# w = 0 (loss (1 + a^2)/2 = 2.5) is the wall between them. This notebook counts the components
# of the sublevel sets at levels around these values and shows what is proven and what is not.
# (Cells are marked `# %%`; open it with Jupytext or run it as a script.)

# %%
import torch

import sublevel

torch.set_num_threads(1)
data = sublevel.construct("one-neuron", a=2.0)
arch = data.default_architecture()
print(arch.spec, arch.activation_name, "bias" if arch.bias else "no bias")

# %% [markdown]
# ## Counts: lower (proven), sampled (estimate), upper (proven)
#
# A 1-1-1 ReLU chain without bias has an exact count for every level (the loss depends on
# v w through a quadratic on each side of w = 0), so every status below is `exact`.

# %%
levels = [0.4, 1.0, 2.2, 2.5 * (1 - 1e-12), 2.5 * (1 + 1e-12), 3.0]
count = sublevel.count(data, arch, levels, settings=sublevel.SampleSettings(starts=32, steps=200))
for bracket in count.brackets:
    print(f"lambda = {bracket.level:<20.15g} {bracket.describe()}")
assert [b.lower for b in count.brackets] == [0, 1, 2, 2, 1, 1]
assert all(b.status == "exact" for b in count.brackets)

# %% [markdown]
# ## The wall is proven, not sampled
#
# A path between the two minima must cross w = 0. Its certified maximum (exact segment maxima)
# can never be below the wall; a path finder confirms it.

# %%
theta_global = torch.tensor([-1.0, 2.0], dtype=torch.float64)
theta_spurious = torch.tensor([1.0, 1.0], dtype=torch.float64)
problem = data.problem(arch)
path = sublevel.get_finder("dss")(problem, theta_global, theta_spurious, level=2.2)
print(f"best path found: certified maximum {path.maximum:.6f} (the wall is 2.5)")
assert path.maximum >= 2.5 and not path.inside(2.2)

# %% [markdown]
# ## Where nothing proves an upper bound
#
# With two hidden units the same data give no whole-space proof: the count is a lower bound, and
# the sampled number is only an estimate.

# %%
wide = sublevel.Architecture.parse("1-2-1", "relu", bias=False)
count = sublevel.count(data, wide, [2.2], settings=sublevel.SampleSettings(starts=32, steps=200))
(bracket,) = count.brackets
print(bracket.describe())
assert bracket.upper is None and bracket.status in ("lower bound", "estimate")
