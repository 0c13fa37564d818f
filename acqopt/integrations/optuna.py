"""acqopt inside optuna-integration's ``BoTorchSampler``.

:func:`swap_optimizer` keeps Optuna's own candidates functions (its model, acquisition,
constraints, multi-objective handling, running trials) and swaps only the acquisition
maximiser for an acqopt method:

    >>> import optuna
    >>> from optuna_integration import BoTorchSampler
    >>> from acqopt.integrations.optuna import swap_optimizer
    >>> sampler = BoTorchSampler(candidates_func=swap_optimizer("cma-lbfgs"))
    >>> study = optuna.create_study(sampler=sampler)

:func:`candidates_func` replaces the model too (acqopt's ARD Matern-5/2 GP and LogEI/EI;
single objective, no constraints). Both need the ``optuna`` extra (``pip install
"acqopt[optuna]"``). :class:`AcqoptSampler` is a sampler of acqopt's own, for studies without
optuna-integration (``acqopt.integrations._optuna_sampler``).
"""

from __future__ import annotations

import functools
import inspect
import itertools
import threading
import warnings
from typing import Any, Callable

import torch
from torch import Tensor

from acqopt.api import get_optimizer
from acqopt.bo.model import ACQUISITIONS, fit_gp, make_acquisition


def candidates_func(
    method: str = "lbfgs",
    *,
    acquisition: str = "logei",
    budget: int | None = None,
    seed: int = 0,
    **method_options: Any,
) -> Callable[[Tensor, Tensor, Tensor | None, Tensor, Tensor | None], Tensor]:
    """Builds ``candidates_func(train_x, train_obj, train_con, bounds, pending_x)``.

    Args:
        method: The acqopt method that maximises the acquisition.
        acquisition: "logei" or "ei".
        budget: Acquisition queries per suggestion; None for the method's default.
        seed: Base seed; each call adds the number of observed trials.
        **method_options: Fields of the method's config.
    """
    if acquisition not in ACQUISITIONS:
        raise ValueError(f"acquisition: expected one of {ACQUISITIONS}, got {acquisition!r}")
    optimizer = get_optimizer(method, **method_options)

    def func(train_x: Tensor, train_obj: Tensor, train_con: Tensor | None, bounds: Tensor,
             pending_x: Tensor | None) -> Tensor:
        if train_obj.shape[-1] != 1:
            raise ValueError("train_obj: acqopt's candidates_func handles one objective")
        if train_con is not None:
            raise ValueError("train_con: acqopt's candidates_func does not handle constraints")
        if pending_x is not None:
            raise ValueError("pending_x: running trials are not supported; create the sampler "
                             "with consider_running_trials=False")
        d = train_x.shape[-1]
        X = (train_x - bounds[0]) / (bounds[1] - bounds[0])
        with torch.random.fork_rng():  # model fitting must not move the global RNG
            torch.manual_seed(seed + train_x.shape[0])
            model = fit_gp(X.double(), train_obj.double())  # optuna passes values to maximise
        acq = make_acquisition(model, acquisition)
        unit = torch.stack([torch.zeros(d), torch.ones(d)]).double()
        result = optimizer.optimize(acq, unit, budget=budget, generator=seed + train_x.shape[0])
        return (bounds[0] + result.candidates * (bounds[1] - bounds[0])).to(train_x)

    return func


def swap_optimizer(method: str = "lbfgs", candidates_func: Callable | None = None,
                   **options: Any) -> Callable:
    """Optuna's candidates function with its ``optimize_acqf`` call answered by acqopt.

    Args:
        method: The acqopt method.
        candidates_func: One of ``optuna_integration.botorch``'s candidates functions (or any
            function that calls BoTorch's ``optimize_acqf`` through a module-level name);
            None picks Optuna's default per call, as ``BoTorchSampler`` does: LogEI for one
            objective, qEI when running trials are considered, qEHVI for 2-3 objectives, EHVI
            or qParEGO beyond.
        **options: Keyword arguments for :func:`acqopt.optimize_acqf` (``budget``, method fields).

    Returns:
        ``candidates_func(train_x, train_obj, train_con, bounds, pending_x)`` for
        ``BoTorchSampler``. The swap holds in the calling thread for the duration of each call
        (thread-safe: see ``_install_dispatcher``).

    Categorical parameters reach the candidates function one-hot encoded (one ``[0, 1]``
    column per category, consecutive), which Optuna decodes by argmax: a maximiser of the
    relaxed columns would value points no category takes. The columns' groups are read off the
    training inputs (:func:`one_hot_groups`), and the acquisition is maximised over every
    combination of valid one-hot rows (``acqopt.optimize_acqf_mixed``, the budget split among
    them) while there are at most ``MAX_ONE_HOT_COMBINATIONS``; beyond that the relaxed
    columns are searched, with a warning.
    """
    from acqopt.api import optimize_acqf

    get_optimizer(method)  # an unknown name fails here, not at the first BO trial

    def func(train_x, train_obj, train_con, bounds, pending_x):
        base = candidates_func or _optuna_default(train_obj.shape[-1], train_con is not None,
                                                  pending_x is not None)
        combinations = _one_hot_combinations(one_hot_groups(train_x, bounds))
        if combinations is None:
            maximiser = functools.partial(optimize_acqf, method=method, **options)
        else:
            maximiser = functools.partial(_over_combinations, combinations, method=method,
                                          **options)
        names = inspect.unwrap(base).__globals__  # Optuna's decorators wrap its functions
        if "optimize_acqf" not in names:
            raise ValueError(f"candidates_func: {base.__name__} does not call optimize_acqf "
                             "through a module-level name, so it cannot be swapped")
        _install_dispatcher(names)
        previous = getattr(_ROUTE, "maximiser", None)
        _ROUTE.maximiser = maximiser
        try:
            return base(train_x, train_obj, train_con, bounds, pending_x)
        finally:
            _ROUTE.maximiser = previous

    return func


# Optuna's candidates functions call BoTorch's optimize_acqf through their module's global
# name and take no maximiser argument, so the name is the only place to reach. Rebinding it for
# the duration of a call would hand acqopt to any other thread calling those functions then
# (and BoTorch back to ours when its call ends first). Instead the name is bound once, for
# good, to a dispatcher that routes by thread: a thread inside a swapped candidates function
# gets its acqopt maximiser, every other call BoTorch's optimize_acqf as before.
_ROUTE = threading.local()
_INSTALL = threading.Lock()


def _install_dispatcher(names: dict) -> None:
    with _INSTALL:
        original = names["optimize_acqf"]
        if getattr(original, "_acqopt_original", None) is not None:
            return

        @functools.wraps(original)
        def optimize_acqf(*args, **kwargs):
            maximiser = getattr(_ROUTE, "maximiser", None)
            return (original if maximiser is None else maximiser)(*args, **kwargs)

        optimize_acqf._acqopt_original = original
        names["optimize_acqf"] = optimize_acqf


def _optuna_default(n_objectives: int, has_constraint: bool, running: bool) -> Callable:
    """The candidates function ``BoTorchSampler`` picks by default (optuna-integration 4-5)."""
    from optuna_integration import botorch as ob

    if n_objectives > 3:
        return ob.qparego_candidates_func if has_constraint or running else \
            ob.ehvi_candidates_func
    if n_objectives > 1:
        return ob.qehvi_candidates_func
    return ob.qei_candidates_func if running else ob.logei_candidates_func


# The most one-hot combinations searched one by one (Ax enumerates up to 10 in the same way).
MAX_ONE_HOT_COMBINATIONS = 64


def one_hot_groups(train_x: Tensor, bounds: Tensor) -> list[list[int]]:
    """Groups of consecutive columns that hold a one-hot encoded categorical, as Optuna's
    ``_SearchSpaceTransform`` writes it: bounds ``[0, 1]``, values 0 or 1, and in every
    training row exactly one 1 within the group. Read greedily from the left; a group whose
    last categories no trial has taken yet is found without them."""
    d = train_x.shape[-1]
    binary = ((bounds[0] == 0) & (bounds[1] == 1)
              & ((train_x == 0) | (train_x == 1)).all(0)).tolist()
    groups, j = [], 0
    while j < d:
        if not binary[j]:
            j += 1
            continue
        k = j
        total = torch.zeros(train_x.shape[0], dtype=train_x.dtype, device=train_x.device)
        while k < d and binary[k]:
            total = total + train_x[:, k]
            k += 1
            if bool((total > 1).any()):
                break
            if bool((total == 1).all()):
                if k - j >= 2:
                    groups.append(list(range(j, k)))
                    j = k - 1
                break
        j += 1
    return groups


def _one_hot_combinations(groups: list[list[int]]) -> list[dict[int, float]] | None:
    """Every valid setting of the one-hot groups as fixed features, or None (no groups, or too
    many combinations: a warning says the relaxed columns are searched)."""
    if not groups:
        return None
    count = 1
    for g in groups:
        count *= len(g)
    if count > MAX_ONE_HOT_COMBINATIONS:
        warnings.warn(
            f"acqopt.integrations.optuna: {count} combinations of categories exceed "
            f"MAX_ONE_HOT_COMBINATIONS={MAX_ONE_HOT_COMBINATIONS}; their one-hot columns are "
            "searched relaxed and Optuna rounds them by argmax", stacklevel=3)
        return None
    out = []
    for choice in itertools.product(*groups):
        out.append({c: float(c in choice) for g in groups for c in g})
    return out


def _over_combinations(combinations, acq_function, bounds, q=1, num_restarts=None,
                       raw_samples=None, options=None, sequential=False, **kwargs):
    """Optuna's ``optimize_acqf(...)`` call answered over valid one-hot rows only."""
    from acqopt.api import optimize_acqf_mixed

    for name in ("fixed_features", "return_best_only", "batch_initial_conditions"):
        if kwargs.get(name) not in (None, True):
            raise ValueError(f"{name}: not supported with one-hot categorical columns")
        kwargs.pop(name, None)
    return optimize_acqf_mixed(acq_function, bounds, q, num_restarts, combinations,
                               raw_samples=raw_samples, options=options, **kwargs)


def __getattr__(name: str):
    """``AcqoptSampler`` (in its own module, which imports optuna at import time)."""
    if name == "AcqoptSampler":
        from acqopt.integrations._optuna_sampler import AcqoptSampler

        return AcqoptSampler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
