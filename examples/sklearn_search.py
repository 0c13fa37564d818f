"""Tuning an sklearn estimator with cross-validation, acqopt choosing the points.

``acqopt.sklearn.BayesSearchCV`` is a scikit-learn estimator (like ``GridSearchCV``):
``fit(X, y)`` leaves ``best_params_``, ``best_score_``, ``cv_results_`` and ``best_estimator_``.

Run: ``python -m examples.sklearn_search [--quick] [--method lbfgs]``.
"""

from __future__ import annotations

import argparse

from sklearn.datasets import load_breast_cancer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from acqopt.sklearn import BayesSearchCV


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--method", default="lbfgs")
    args = parser.parse_args()
    X, y = load_breast_cancer(return_X_y=True)
    estimator = make_pipeline(StandardScaler(), SVC())
    spaces = {"svc__C": (1e-3, 1e3, "log-uniform"), "svc__gamma": (1e-4, 1e1, "log-uniform")}
    search = BayesSearchCV(estimator, spaces, cv=3 if args.quick else 5, scoring="accuracy",
                           n_initial_points=6, n_iter=10 if args.quick else 22,
                           method=args.method, random_state=0)
    search.fit(X, y)
    print(f"best CV accuracy {search.best_score_:.4f} with {search.best_params_}")


if __name__ == "__main__":
    main()
