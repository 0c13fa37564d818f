"""The GENNES paper's A.3 problem: logistic-regression hyperparameters on sklearn digits.

Model: ``SGDClassifier(loss="log_loss", penalty="elasticnet", learning_rate="constant")``.
Hyperparameters (as in the paper): learning rate, L1 and L2 strengths on a log scale in
[1e-5, 1], and the number of iterations in [5, 50]. sklearn's elastic-net penalty is
``alpha * (l1_ratio * |w|_1 + (1 - l1_ratio) / 2 * |w|_2^2)``, so we set
``alpha = l1 + l2`` and ``l1_ratio = l1 / (l1 + l2)``: the L1 term is then ``l1 * |w|_1`` and
the L2 term ``l2 / 2 * |w|_2^2``. Test split 0.15, 20 initial points; the objective is the test
error. Prints the best hyperparameters and test error and saves a plot of the best test error
against evaluations for each method.

Run: ``python examples/digits_logreg.py [--quick] [--methods lbfgs gennes ...] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from acqopt.bo import Integer, Real, Space, minimize

SPACE = Space([
    Real("learning_rate", 1e-5, 1.0, log=True),
    Real("l1", 1e-5, 1.0, log=True),
    Real("l2", 1e-5, 1.0, log=True),
    Integer("n_iter", 5, 50),
])


def make_objective(seed: int = 0):
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.15, random_state=seed)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

    def test_error(p: dict) -> float:
        model = SGDClassifier(
            loss="log_loss", penalty="elasticnet", learning_rate="constant",
            eta0=p["learning_rate"], alpha=p["l1"] + p["l2"],
            l1_ratio=p["l1"] / (p["l1"] + p["l2"]), max_iter=p["n_iter"], tol=None,
            random_state=seed,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X_train, y_train)
        return 1.0 - model.score(X_test, y_test)

    return test_error


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
