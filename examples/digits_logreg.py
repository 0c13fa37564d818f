"""The GENNES paper's A.3 problem (``benchmarks/digits.py``): logistic-regression
hyperparameters on sklearn digits, 20 initial points, then BO with each method. Prints the best
hyperparameters and test error and saves a plot of the best test error against evaluations.

Run from the repository root: ``python -m examples.digits_logreg [--quick] [--methods ...]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from acqopt.bo import minimize
from benchmarks.digits import SPACE, make_objective


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    parser.add_argument("--methods", nargs="+", default=["lbfgs", "gennes", "cma-lbfgs", "vo"])
    parser.add_argument("--n-iter", type=int, default=30, help="BO steps after the 20 initial points")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("examples/output"))
    args = parser.parse_args()
    n_iter, budget = (5, 300) if args.quick else (args.n_iter, None)
    methods = args.methods[:2] if args.quick else args.methods
    objective = make_objective(args.seed)
    histories = {}
    for method in methods:
        histories[method] = minimize(objective, SPACE, n_init=20, n_iter=n_iter, method=method,
                                     budget=budget, seed=args.seed, progress=not args.quick)
        h = histories[method]
        print(f"{method:>12}: best test error {h.best_value:.4f} with {h.best_params} "
              f"({sum(h.queries)} acquisition queries)")
    path = plot(histories, args.out / "digits_logreg.png", "digits: best test error")
    print(f"plot: {path}")


def plot(histories: dict, path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for method, h in histories.items():
        ax.plot(range(1, len(h) + 1), h.best, label=method)
    ax.set(xlabel="objective evaluations", ylabel="best so far", title=title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


if __name__ == "__main__":
    main()
