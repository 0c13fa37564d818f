"""The GENNES paper's A.3 problem: logistic-regression hyperparameters on sklearn digits.

Model: ``SGDClassifier(loss="log_loss", penalty="elasticnet", learning_rate="constant")``.
Hyperparameters (as in the paper): learning rate, L1 and L2 strengths on a log scale in
[1e-5, 1], and the number of iterations in [5, 50]. sklearn's elastic-net penalty is
``alpha * (l1_ratio * |w|_1 + (1 - l1_ratio) / 2 * |w|_2^2)``, so we set
``alpha = l1 + l2`` and ``l1_ratio = l1 / (l1 + l2)``: the L1 term is then ``l1 * |w|_1`` and
the L2 term ``l2 / 2 * |w|_2^2``. Test split 0.15; the objective is the test error.
"""

from __future__ import annotations

import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from acqopt.bo import Integer, Real, Space

SPACE = Space([
    Real("learning_rate", 1e-5, 1.0, log=True),
    Real("l1", 1e-5, 1.0, log=True),
    Real("l2", 1e-5, 1.0, log=True),
    Integer("n_iter", 5, 50),
])


def make_objective(seed: int = 0):
    """Test error of SGD logistic regression on the split given by ``seed`` (a ``{name: value}``
    callable)."""
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


def space() -> Space:
    """The search space: learning rate, L1, L2 (log scale) and the integer ``n_iter``."""
    return SPACE
