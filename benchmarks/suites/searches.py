"""Hyperparameter searches with categorical parameters: acqopt's ``BayesSearchCV`` against
Optuna's ``TPESampler`` and scikit-learn's ``RandomizedSearchCV`` at equal trials.

Problems (datasets that ship with scikit-learn; accuracy of 3-fold stratified CV, the same
folds for every method, maximised):
- svc-digits: ``SVC`` on the digits (pixels / 16): ``C`` (1e-2..1e3, log), ``gamma``
  (1e-5..1, log), ``kernel`` (rbf / poly / sigmoid), ``class_weight`` (None / balanced).
- sgd-cancer: standardised breast-cancer data into ``SGDClassifier``: ``alpha`` (1e-6..1,
  log), ``l1_ratio`` (0..1), ``max_iter`` (5..100), ``loss`` (hinge / log_loss /
  modified_huber / perceptron), ``penalty`` (l2 / l1 / elasticnet).
- tree-wine: ``DecisionTreeClassifier`` on the wines: ``max_depth`` (1..15),
  ``min_samples_split`` (2..20), ``min_samples_leaf`` (1..10), ``criterion`` (gini / entropy
  / log_loss), ``max_features`` (sqrt / log2 / None).
Every estimator is seeded (``random_state=0``), so a setting has one score.

Methods, each seeded by the repetition's seed:
- ``bayes``: ``acqopt.sklearn.BayesSearchCV`` at its defaults (10 Sobol points, then LogEI on
  BoTorch's ``MixedSingleTaskGP`` maximised by ``lbfgs`` on the grid, warm-started fits);
- ``tpe``: an Optuna study with ``TPESampler(seed=seed)`` (10 random startup trials, its
  default), the parameters through ``suggest_float(log=...)``, ``suggest_int`` and
  ``suggest_categorical``;
- ``random``: ``RandomizedSearchCV`` with ``loguniform``/``uniform``/``randint`` and lists.
A record keeps the best CV score after each trial, the search's wall time and the part of it
spent in cross-validation (the rest is the search's own overhead).
"""

from __future__ import annotations

import functools
import time
import warnings
from collections import defaultdict
from pathlib import Path
from statistics import median

import numpy as np

from benchmarks.report import fmt, paired
from benchmarks.runner import Task

TRIALS = 30
PROBLEMS = ("svc-digits", "sgd-cancer", "tree-wine")
METHODS = ("bayes", "tpe", "random")
PROFILES = {
    "smoke": dict(problems=["tree-wine"], seeds=1, trials=12),
    "quick": dict(problems=list(PROBLEMS), seeds=2, trials=TRIALS),
    "full": dict(problems=list(PROBLEMS), seeds=10, trials=TRIALS),
}

# name -> ("real", low, high, log) | ("int", low, high) | ("cat", choices)
SPACES = {
    "svc-digits": {"C": ("real", 1e-2, 1e3, True), "gamma": ("real", 1e-5, 1.0, True),
                   "kernel": ("cat", ["rbf", "poly", "sigmoid"]),
                   "class_weight": ("cat", [None, "balanced"])},
    "sgd-cancer": {"alpha": ("real", 1e-6, 1.0, True), "l1_ratio": ("real", 0.0, 1.0, False),
                   "max_iter": ("int", 5, 100),
                   "loss": ("cat", ["hinge", "log_loss", "modified_huber", "perceptron"]),
                   "penalty": ("cat", ["l2", "l1", "elasticnet"])},
    "tree-wine": {"max_depth": ("int", 1, 15), "min_samples_split": ("int", 2, 20),
                  "min_samples_leaf": ("int", 1, 10),
                  "criterion": ("cat", ["gini", "entropy", "log_loss"]),
                  "max_features": ("cat", ["sqrt", "log2", None])},
}


def tasks(profile: str, methods: list[str] | None, seeds: int | None) -> list[Task]:
    p = PROFILES[profile]
    unknown = set(methods or ()) - set(METHODS)
    if unknown:
        raise ValueError(f"methods: the searches suite has {METHODS}, not {sorted(unknown)}")
    return [Task(f"searches/{name}/{seed}/{method}/{p['trials']}", run,
                 dict(problem=name, seed=seed, method=method, trials=p["trials"]),
                 label=f"{method} {name} seed {seed}")
            for seed in range(seeds or p["seeds"]) for name in p["problems"]
            for method in methods or METHODS]


@functools.lru_cache(maxsize=None)
def _data(problem: str):
    from sklearn import datasets

    if problem == "svc-digits":
        X, y = datasets.load_digits(return_X_y=True)
        return X / 16.0, y
    loader = datasets.load_breast_cancer if problem == "sgd-cancer" else datasets.load_wine
    return loader(return_X_y=True)


def _estimator(problem: str):
    from sklearn.linear_model import SGDClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier

    if problem == "svc-digits":
        return SVC(random_state=0)
    if problem == "sgd-cancer":
        return make_pipeline(StandardScaler(), SGDClassifier(random_state=0))
    return DecisionTreeClassifier(random_state=0)


def _prefix(problem: str) -> str:
    return "sgdclassifier__" if problem == "sgd-cancer" else ""


def _cv():
    from sklearn.model_selection import StratifiedKFold

    return StratifiedKFold(3, shuffle=True, random_state=0)


def run(problem: str, seed: int, method: str, trials: int) -> dict:
    warnings.filterwarnings("ignore")
    X, y = _data(problem)
    start = time.perf_counter()
    scores, cv_seconds = {"bayes": _bayes, "tpe": _tpe, "random": _random}[method](
        problem, X, y, seed, trials)
    wall = time.perf_counter() - start
    best = np.maximum.accumulate(np.nan_to_num(np.asarray(scores, float), nan=-np.inf))
    return {"suite": "searches", "problem": problem, "seed": seed, "method": method,
            "trials": trials, "scores": [float(s) for s in scores],
            "best": best.tolist(), "final_best": float(best[-1]), "wall_time": wall,
            "cv_time": cv_seconds}


def _cv_seconds(results: dict) -> float:
    folds = 3
    return float(np.sum(results["mean_fit_time"] + results["mean_score_time"]) * folds)


def _bayes(problem, X, y, seed, trials):
    from acqopt.sklearn import BayesSearchCV

    spaces = {}
    for name, spec in SPACES[problem].items():
        if spec[0] == "real":
            spaces[_prefix(problem) + name] = (spec[1], spec[2], "log-uniform") if spec[3] \
                else (float(spec[1]), float(spec[2]))
        elif spec[0] == "int":
            spaces[_prefix(problem) + name] = (spec[1], spec[2])
        else:
            spaces[_prefix(problem) + name] = list(spec[1])
    search = BayesSearchCV(_estimator(problem), spaces, n_iter=trials, cv=_cv(),
                           random_state=seed, refit=False).fit(X, y)
    return list(search.cv_results_["mean_test_score"]), _cv_seconds(search.cv_results_)


def _random(problem, X, y, seed, trials):
    from scipy.stats import loguniform, randint, uniform
    from sklearn.model_selection import RandomizedSearchCV

    distributions = {}
    for name, spec in SPACES[problem].items():
        if spec[0] == "real":
            distributions[_prefix(problem) + name] = loguniform(spec[1], spec[2]) if spec[3] \
                else uniform(spec[1], spec[2] - spec[1])
        elif spec[0] == "int":
            distributions[_prefix(problem) + name] = randint(spec[1], spec[2] + 1)
        else:
            distributions[_prefix(problem) + name] = list(spec[1])
    search = RandomizedSearchCV(_estimator(problem), distributions, n_iter=trials, cv=_cv(),
                                random_state=seed, refit=False).fit(X, y)
    return list(search.cv_results_["mean_test_score"]), _cv_seconds(search.cv_results_)


def _tpe(problem, X, y, seed, trials):
    import optuna
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cv_seconds = 0.0

    def objective(trial):
        nonlocal cv_seconds
        params = {}
        for name, spec in SPACES[problem].items():
            if spec[0] == "real":
                params[name] = trial.suggest_float(name, spec[1], spec[2], log=spec[3])
            elif spec[0] == "int":
                params[name] = trial.suggest_int(name, spec[1], spec[2])
            else:
                params[name] = trial.suggest_categorical(name, spec[1])
        model = clone(_estimator(problem)).set_params(
            **{_prefix(problem) + k: v for k, v in params.items()})
        t = time.perf_counter()
        score = float(np.mean(cross_val_score(model, X, y, cv=_cv())))
        cv_seconds += time.perf_counter() - t
        return score

    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=trials)
    return [t.value for t in study.trials], cv_seconds


# -- the results page ----------------------------------------------------------------------

def report(records: list[dict], path: Path, profile: str) -> str:
    by: dict[tuple, dict[int, dict]] = defaultdict(dict)
    for r in records:
        by[(r["problem"], r["method"], r["trials"])][r["seed"]] = r
    lines = ["| problem | method | trials | seeds | best CV accuracy | against TPE: W/T/L | p "
             "| median / TPE's | s per trial | search overhead s per trial |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    verdicts = []
    for (problem, method, trials), runs in sorted(by.items()):
        final = [runs[s]["final_best"] for s in sorted(runs)]
        tpe = by.get((problem, "tpe", trials), {})
        seeds = sorted(set(runs) & set(tpe))
        if method == "tpe" or not seeds:
            versus = "- | - | -"
        else:
            # paired() counts lower as better: accuracies enter negated
            w, t, l_, p = paired([-runs[s]["final_best"] for s in seeds],
                                 [-tpe[s]["final_best"] for s in seeds])
            m, mt = median(runs[s]["final_best"] for s in seeds), median(
                tpe[s]["final_best"] for s in seeds)
            versus = f"{w}/{t}/{l_} | {p:.2g} | {m:.4f} / {mt:.4f}"
            if method == "bayes":
                verdicts.append(f"- {problem}: `BayesSearchCV`'s median best {m:.4f} against "
                                f"TPE's {mt:.4f} over {len(seeds)} seeds ({w}/{t}/{l_}, p = "
                                f"{p:.2g}): {'no worse' if m >= mt else 'worse'} than TPE.")
        per_trial = [runs[s]["wall_time"] / trials for s in runs]
        overhead = [(runs[s]["wall_time"] - runs[s]["cv_time"]) / trials for s in runs]
        lines.append(f"| {problem} | {method} | {trials} | {len(runs)} | {fmt(final, 4)} "
                     f"| {versus} | {fmt(per_trial, 2)} | {fmt(overhead, 2)} |")
    return (
        f"# Hyperparameter searches with categorical parameters ({profile} profile)\n\n"
        "Best 3-fold CV accuracy (the same folds for every method) after the trials, medians "
        "with [IQR] over seeds; W/T/L and p (two-sided Wilcoxon signed-rank) paired by seed "
        "against Optuna's `TPESampler`; time per trial with the cross-validation, and the "
        "search's own overhead (model fits and proposals) per trial. "
        "`benchmarks/suites/searches.py` describes the problems and methods.\n\n"
        + "\n".join(lines) + "\n\nTarget (`BayesSearchCV` no worse than TPE at 30 trials, "
        "median over seeds):\n\n" + ("\n".join(verdicts) or "- no paired runs yet") + "\n")
