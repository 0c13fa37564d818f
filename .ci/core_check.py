"""A core install (``pip install acqopt``, no extras) runs the README's core sections: the swap,
the BO loop with a progress bar, CMA-ES, mixed spaces; and nothing warns on import or first use."""

import warnings

warnings.simplefilter("error")  # a stray warning from a dependency fails the check
warnings.filterwarnings("ignore", category=DeprecationWarning)  # torch.jit's, not ours

import acqopt  # noqa: E402
from acqopt.bo import Categorical, Integer, Real, Space, minimize  # noqa: E402
from acqopt.testing import Bumps, MixedBumps  # noqa: E402

space = Space([Real("x", 0.0, 1.0), Integer("n", 0, 5), Categorical("k", ["a", "b", "c"])])
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # GPyTorch's numerical notes on a 4-point fit
    history = minimize(lambda p: (p["x"] - 0.3) ** 2 + p["n"] + (p["k"] != "b"), space,
                       n_init=4, n_iter=2, budget=300)
assert len(history) == 6 and history.records()
for method in ("lbfgs", "cma-lbfgs"):
    acqopt.get_optimizer(method).optimize(Bumps(), Bumps.bounds.double(), budget=300, generator=0)
x, _ = acqopt.optimize_acqf_mixed_alternating(MixedBumps(), MixedBumps.bounds.double(), budget=300,
                                              generator=0, discrete_dims=MixedBumps.discrete_dims,
                                              cat_dims=MixedBumps.cat_dims)
try:
    history.to_dataframe()
except ImportError as e:
    assert "pip install pandas" in str(e)
print("core install: ok")
