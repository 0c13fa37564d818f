"""Tuning an sklearn estimator with cross-validation, acqopt choosing the points.

Written the way sklearn users expect: an estimator, a parameter space, ``cv`` and ``scoring``;
``BayesSearch(...).fit(X, y)`` leaves ``best_params_``, ``best_score_`` and ``best_estimator_``.

Run: ``python -m examples.sklearn_search [--quick] [--method lbfgs]``.
"""

from __future__ import annotations

import argparse

from sklearn.base import clone
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from acqopt.bo import Real, Space, minimize


class BayesSearch:
    """Maximises the cross-validated ``scoring`` of ``estimator`` over ``space``."""

    def __init__(self, estimator, space: Space, *, cv=5, scoring=None, n_init=8, n_iter=16,
                 method="lbfgs", seed=0):
        self.estimator, self.space, self.cv, self.scoring = estimator, space, cv, scoring
        self.n_init, self.n_iter, self.method, self.seed = n_init, n_iter, method, seed

    def fit(self, X, y):
        def loss(params):
            model = clone(self.estimator).set_params(**params)
            return -cross_val_score(model, X, y, cv=self.cv, scoring=self.scoring).mean()

        self.history_ = minimize(loss, self.space, n_init=self.n_init, n_iter=self.n_iter,
                                 method=self.method, seed=self.seed, progress=False)
        self.best_params_ = self.history_.best_params
        self.best_score_ = -self.history_.best_value
        self.best_estimator_ = clone(self.estimator).set_params(**self.best_params_).fit(X, y)
        return self


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--method", default="lbfgs")
    args = parser.parse_args()
    X, y = load_breast_cancer(return_X_y=True)
    estimator = make_pipeline(StandardScaler(), SVC())
    space = Space([Real("svc__C", 1e-3, 1e3, log=True), Real("svc__gamma", 1e-4, 1e1, log=True)])
    search = BayesSearch(estimator, space, cv=3 if args.quick else 5, scoring="accuracy",
                         n_init=6, n_iter=4 if args.quick else 16, method=args.method)
    search.fit(X, y)
    print(f"best CV accuracy {search.best_score_:.4f} with {search.best_params_}")


if __name__ == "__main__":
    main()
