"""``BayesSearchCV``: scikit-learn hyperparameter search by Bayesian optimisation with acqopt.

Modelled on scikit-learn's ``GridSearchCV`` and scikit-optimize's ``BayesSearchCV``::

    from acqopt.sklearn import BayesSearchCV
    search = BayesSearchCV(SVC(), {"C": (1e-3, 1e3, "log-uniform"), "kernel": ["rbf", "poly"]},
                           n_iter=20, cv=5, method="cma-lbfgs").fit(X, y)
    search.best_params_, search.best_score_, search.predict(X_test)

Dimensions of ``search_spaces``: ``acqopt.bo.Real``/``Integer``/``Categorical``, or
scikit-optimize-style values: ``(low, high)`` (integers if both are ints, reals otherwise),
``(low, high, "log-uniform")`` (reals on a log scale), or a list of categories. A list of
categories is a ``Categorical``: the model (BoTorch's ``MixedSingleTaskGP``) compares categories
only for equality, so the order they are listed in does not matter, and every method searches
them as categories (``cat_dims``).
"""

from __future__ import annotations

import copy
import dataclasses
import numbers
import time
from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv, cross_validate
from sklearn.utils import check_random_state, get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from acqopt.bo import Categorical, Integer, Real, Space, minimize


def _refitted_has(name: str):
    def check(self) -> bool:
        if not self.refit:
            raise AttributeError(f"{name} needs refit=True")
        return hasattr(getattr(self, "best_estimator_", self.estimator), name)

    return check


def _fitted(search: "BayesSearchCV") -> BaseEstimator:
    check_is_fitted(search, "best_estimator_")
    return search.best_estimator_


class BayesSearchCV(MetaEstimatorMixin, BaseEstimator):
    """Maximises the cross-validated score of ``estimator`` over ``search_spaces``.

    Args:
        estimator: A scikit-learn estimator (or pipeline).
        search_spaces: ``{parameter name: dimension}`` (see the module docstring).
        n_iter: Parameter settings evaluated in all, the first ``n_initial_points`` from a
            scrambled Sobol design.
        scoring, cv, n_jobs, error_score, return_train_score: As in ``GridSearchCV``; ``n_jobs``
            parallelises the folds of each setting.
        refit: Refit the best setting on all data, for ``predict``, ``score`` and friends.
        random_state: Seeds the design, the GP fits and the acquisition optimiser.
        method: The acqopt method that maximises the acquisition (a registered name).
        acquisition: "logei" or "ei".
        n_initial_points: Size of the initial design.
    """

    def __init__(self, estimator, search_spaces, *, n_iter=32, scoring=None, cv=None,
                 n_jobs=None, refit=True, random_state=None, method="lbfgs",
                 acquisition="logei", n_initial_points=10, error_score=np.nan,
                 return_train_score=False):
        self.estimator = estimator
        self.search_spaces = search_spaces
        self.n_iter = n_iter
        self.scoring = scoring
        self.cv = cv
        self.n_jobs = n_jobs
        self.refit = refit
        self.random_state = random_state
        self.method = method
        self.acquisition = acquisition
        self.n_initial_points = n_initial_points
        self.error_score = error_score
        self.return_train_score = return_train_score

    def fit(self, X, y=None, groups=None, **fit_params):
        """Runs the search; ``fit_params`` go to the estimator's ``fit``."""
        for name, value in (("n_iter", self.n_iter), ("n_initial_points", self.n_initial_points)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name}: expected an int >= 1, got {value!r}")
        space = _space(self.search_spaces)
        scorer = check_scoring(self.estimator, scoring=self.scoring)
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        evaluations, errors = [], []

        def loss(params):
            setting = dict(params)
            model = clone(self.estimator).set_params(**setting)
            try:
                scores = cross_validate(model, X, y, groups=groups, scoring=scorer, cv=cv,
                                        n_jobs=self.n_jobs, params=fit_params or None,
                                        return_train_score=self.return_train_score,
                                        error_score=self.error_score)
            except Exception as exc:  # bad data or error_score="raise": kept, raised below
                errors.append(exc)
                raise
            evaluations.append((setting, scores))
            mean = float(np.mean(scores["test_score"]))
            return -mean if np.isfinite(mean) else float("nan")

        n_init = min(self.n_initial_points, self.n_iter)
        self.history_ = minimize(loss, space, n_init=n_init, n_iter=self.n_iter - n_init,
                                 method=self.method, acquisition=self.acquisition, seed=seed,
                                 progress=False)
        if errors and (not evaluations or self.error_score == "raise"):
            raise errors[0]  # the data or the estimator is at fault, as GridSearchCV reports
        self.cv_results_ = _cv_results(evaluations, self.return_train_score)
        means = self.cv_results_["mean_test_score"]
        if not np.isfinite(means).any():  # surface the estimator's own error, if it has one
            model = clone(self.estimator).set_params(**self.cv_results_["params"][0])
            cross_validate(model, X, y, groups=groups, scoring=scorer, cv=cv,
                           params=fit_params or None, error_score="raise")
            raise ValueError("estimator: every setting scored NaN")
        self.best_index_ = int(np.nanargmax(means))
        self.best_params_ = self.cv_results_["params"][self.best_index_]
        self.best_score_ = float(means[self.best_index_])
        self.scorer_ = scorer
        self.n_splits_ = cv.get_n_splits(X, y, groups)
        if self.refit:
            start = time.perf_counter()
            self.best_estimator_ = clone(self.estimator).set_params(**self.best_params_)
            self.best_estimator_.fit(X, y, **fit_params)
            self.refit_time_ = time.perf_counter() - start
            if hasattr(self.best_estimator_, "classes_"):
                self.classes_ = self.best_estimator_.classes_
            if hasattr(self.best_estimator_, "n_features_in_"):
                self.n_features_in_ = self.best_estimator_.n_features_in_
        return self

    def __sklearn_tags__(self):
        # The search is a classifier when its estimator is (stratified folds, scoring), as
        # GridSearchCV does.
        tags = super().__sklearn_tags__()
        sub = get_tags(self.estimator)
        tags.estimator_type = sub.estimator_type
        tags.classifier_tags = copy.deepcopy(sub.classifier_tags)
        tags.regressor_tags = copy.deepcopy(sub.regressor_tags)
        tags.input_tags.pairwise = sub.input_tags.pairwise
        tags.input_tags.sparse = sub.input_tags.sparse
        return tags

    @available_if(_refitted_has("predict"))
    def predict(self, X):
        return _fitted(self).predict(X)

    @available_if(_refitted_has("predict_proba"))
    def predict_proba(self, X):
        return _fitted(self).predict_proba(X)

    @available_if(_refitted_has("decision_function"))
    def decision_function(self, X):
        return _fitted(self).decision_function(X)

    @available_if(_refitted_has("transform"))
    def transform(self, X):
        return _fitted(self).transform(X)

    def score(self, X, y=None):
        """The ``scoring`` of the refitted best estimator on ``X``, ``y``."""
        if not self.refit:
            raise AttributeError("score needs refit=True")
        return self.scorer_(_fitted(self), X, y)


def _space(search_spaces: object):
    """The acqopt ``Space`` of ``search_spaces`` (it hands out the categories themselves)."""
    if not isinstance(search_spaces, Mapping) or not search_spaces:
        raise ValueError("search_spaces: expected a non-empty {parameter name: dimension} dict")
    dims = []
    for name, dim in search_spaces.items():
        if isinstance(dim, (Real, Integer)):
            dims.append(dataclasses.replace(dim, name=name))
        elif isinstance(dim, tuple) and len(dim) in (2, 3):
            low, high, *prior = dim
            log = prior == ["log-uniform"]
            if prior and not log:
                raise ValueError(f"search_spaces[{name!r}]: the prior must be 'log-uniform', got "
                                 f"{prior[0]!r}")
            ints = all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                       for v in (low, high))
            dims.append(Integer(name, int(low), int(high)) if ints and not log
                        else Real(name, float(low), float(high), log=log))
        elif isinstance(dim, Categorical):
            dims.append(dataclasses.replace(dim, name=name))
        elif isinstance(dim, Sequence) and not isinstance(dim, str) and len(dim) >= 2:
            try:
                dims.append(Categorical(name, tuple(dim)))
            except ValueError as e:
                raise ValueError(f"search_spaces[{name!r}]: {e}") from None
        else:
            raise ValueError(
                f"search_spaces[{name!r}]: expected Real/Integer, (low, high), (low, high, "
                f"'log-uniform') or a list of at least two categories, got {dim!r}"
            )
    return Space(dims)


def _cv_results(evaluations: list, train: bool) -> dict:
    """``cv_results_`` with ``GridSearchCV``'s keys (those that apply)."""
    params = [setting for setting, _ in evaluations]
    out = {"params": params}
    for name in params[0]:
        out[f"param_{name}"] = np.ma.MaskedArray([p[name] for p in params], dtype=object)
    kinds = ["test"] + (["train"] if train else [])
    for kind in kinds:
        scores = np.array([s[f"{kind}_score"] for _, s in evaluations], dtype=float)
        for i in range(scores.shape[1]):
            out[f"split{i}_{kind}_score"] = scores[:, i]
        out[f"mean_{kind}_score"] = scores.mean(1)
        out[f"std_{kind}_score"] = scores.std(1)
    for what in ("fit", "score"):
        times = np.array([s[f"{what}_time"] for _, s in evaluations], dtype=float)
        out[f"mean_{what}_time"], out[f"std_{what}_time"] = times.mean(1), times.std(1)
    means = np.where(np.isfinite(out["mean_test_score"]), out["mean_test_score"], -np.inf)
    order = (-means).argsort(kind="stable")
    rank = np.empty(len(means), dtype=np.int32)
    rank[order] = np.arange(1, len(means) + 1)
    out["rank_test_score"] = rank
    return out
