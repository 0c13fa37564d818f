"""The GENNES paper's A.3 toy problem: Alpine1 in 20 dimensions on [-10, 10]^20, 100 initial
points, ARD Matern-5/2 GP and EI (the paper's acquisition; ``--acquisition logei`` too).

Run from the repository root: ``python -m examples.alpine1_20d [--quick] [--methods ...] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import torch

from acqopt.bo import Real, Space, minimize
from benchmarks.functions import get_function
from examples.digits_logreg import plot

D = 20
SPACE = Space([Real(f"x{i}", -10.0, 10.0) for i in range(D)])


def alpine1(p: dict) -> float:
    x = torch.tensor([p[f"x{i}"] for i in range(D)], dtype=torch.float64)
    return float(get_function("alpine1")(x))


def main() -> None:
    warnings.filterwarnings("ignore", message=".*ExpectedImprovement has known numerical issues")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    parser.add_argument("--methods", nargs="+", default=["lbfgs", "gennes", "cma-lbfgs"])
    parser.add_argument("--acquisition", choices=["ei", "logei"], default="ei")
    parser.add_argument("--n-iter", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("examples/output"))
    args = parser.parse_args()
    n_init, n_iter, budget = (30, 4, 300) if args.quick else (100, args.n_iter, None)
    methods = args.methods[:2] if args.quick else args.methods
    histories = {}
    for method in methods:
        h = minimize(alpine1, SPACE, n_init=n_init, n_iter=n_iter, method=method,
                     acquisition=args.acquisition, budget=budget, seed=args.seed,
                     progress=not args.quick)
        histories[method] = h
        print(f"{method:>12}: best Alpine1 {h.best_value:.4f} ({sum(h.queries)} acquisition queries)")
    print(f"plot: {plot(histories, args.out / 'alpine1_20d.png', 'Alpine1-20D: best value')}")


if __name__ == "__main__":
    main()
