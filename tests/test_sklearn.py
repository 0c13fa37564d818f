"""acqopt.sklearn.BayesSearchCV: a scikit-learn estimator."""

import re

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from acqopt.bo import Real
from acqopt.sklearn import BayesSearchCV

X, y = load_iris(return_X_y=True)
SPACES = {"svc__C": (1e-2, 1e2, "log-uniform"), "svc__kernel": ["rbf", "linear"],
          "svc__degree": (1, 4), "svc__gamma": Real("ignored", 1e-3, 1.0, log=True)}


def search(**kwargs):
    options = dict(n_iter=8, n_initial_points=5, cv=3, random_state=0)
    options.update(kwargs)
    return BayesSearchCV(make_pipeline(StandardScaler(), SVC(random_state=0)), SPACES, **options)


def test_fit_gives_gridsearch_attributes_and_delegates():
    s = search().fit(X, y)
    assert set(s.best_params_) == set(SPACES) and s.best_params_["svc__kernel"] in ("rbf", "linear")
    assert isinstance(s.best_params_["svc__degree"], int)
    assert s.best_score_ > 0.9 and s.cv_results_["rank_test_score"][s.best_index_] == 1
    for key in ("params", "mean_test_score", "std_test_score", "split2_test_score",
                "mean_fit_time", "param_svc__C"):
        assert len(s.cv_results_[key]) == 8, key
    assert s.predict(X).shape == y.shape and s.score(X, y) > 0.9 and s.n_splits_ == 3
    assert list(s.classes_) == [0, 1, 2]
    assert s.history_.method == "lbfgs" and len(s.history_) == 8


def test_clone_params_and_random_state_reproduce():
    s = search(method="cma-lbfgs")
    c = clone(s)
    assert c.get_params()["method"] == "cma-lbfgs" and c is not s
    a, b = search().fit(X, y), search().fit(X, y)
    assert a.cv_results_["params"] == b.cv_results_["params"]


def test_inside_cross_val_score_and_a_pipeline():
    inner = BayesSearchCV(LogisticRegression(max_iter=200), {"C": (1e-2, 1e2, "log-uniform")},
                          n_iter=4, n_initial_points=3, cv=2, random_state=0)
    scores = cross_val_score(make_pipeline(StandardScaler(), inner), X, y, cv=2)
    assert scores.shape == (2,) and (scores > 0.8).all()


def test_refit_false_has_no_predict():
    s = search(refit=False, n_iter=5).fit(X, y)
    assert not hasattr(s, "predict") and not hasattr(s, "best_estimator_")


@pytest.mark.parametrize("spaces, words", [
    ({}, "search_spaces: expected a non-empty"),
    ({"C": (1.0, 2.0, "uniform")}, "search_spaces['C']: the prior"),
    ({"C": "abc"}, "search_spaces['C']: expected"),
    ({"C": ["only"]}, "search_spaces['C']: expected"),
])
def test_bad_search_spaces_are_named(spaces, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        BayesSearchCV(SVC(random_state=0), spaces, n_iter=3).fit(X, y)


def test_scikit_learns_estimator_checks_pass():
    from sklearn.utils.estimator_checks import check_estimator

    est = BayesSearchCV(LogisticRegression(), {"C": (0.1, 10.0, "log-uniform")}, n_iter=2,
                        n_initial_points=2, cv=2, random_state=0)
    state = np.random.get_state()  # sklearn's checks draw their data from numpy's global RNG
    try:
        results = check_estimator(est, on_fail=None)
    finally:
        np.random.set_state(state)
    assert [r["check_name"] for r in results if r["status"] == "failed"] == []
