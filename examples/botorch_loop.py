"""A plain BoTorch loop; the only change from BoTorch's tutorial is the optimize_acqf import.

Maximises the negated Branin-like test function ``-(x0 - 0.3)^2 - (x1 - 0.7)^2 + sin(8 x0)/10``
on the unit square with SingleTaskGP + LogEI.

Run: ``python -m examples.botorch_loop [--quick] [--method cma-lbfgs]``.
"""

from __future__ import annotations

import argparse

import torch
from botorch.acquisition import LogExpectedImprovement
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from gpytorch.mlls import ExactMarginalLogLikelihood

from acqopt import optimize_acqf  # was: from botorch.optim import optimize_acqf


def f(X: torch.Tensor) -> torch.Tensor:
    return -(X[..., 0] - 0.3) ** 2 - (X[..., 1] - 0.7) ** 2 + torch.sin(8 * X[..., 0]) / 10


def main() -> None:
    torch.manual_seed(0)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--method", default="lbfgs")
    args = parser.parse_args()
    g = torch.Generator().manual_seed(0)
    bounds = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    train_X = torch.rand(8, 2, generator=g, dtype=torch.float64)
    train_Y = f(train_X).unsqueeze(-1)
    for step in range(5 if args.quick else 20):
        model = SingleTaskGP(train_X, train_Y)
        with torch.random.fork_rng():
            torch.manual_seed(step)
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
        acq = LogExpectedImprovement(model, best_f=train_Y.max())
        torch.manual_seed(step)  # seeds BoTorch's raw samples, and acqopt's call alike
        candidate, value = optimize_acqf(acq, bounds=bounds, q=1, num_restarts=10,
                                         raw_samples=512, options={"batch_limit": 5, "maxiter": 200},
                                         method=args.method)
        train_X = torch.cat([train_X, candidate])
        train_Y = torch.cat([train_Y, f(candidate).unsqueeze(-1)])
        print(f"step {step:2d}: LogEI {float(value):8.3f}  best f {float(train_Y.max()):.5f}")


if __name__ == "__main__":
    main()
