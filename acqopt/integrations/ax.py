"""acqopt inside Ax's modular BoTorch generator (ax-platform 1.3).

Ax keeps its model, acquisition, transforms and parameter constraints; only the acquisition
maximiser changes. The class built by :func:`acquisition_class` is an Ax ``Acquisition`` whose
``optimize`` (Ax's extension point) prepares exactly what Ax 1.3.1's ``Acquisition.optimize``
prepares (bounds, fixed features, linear constraints, discrete choices, Ax's optimizer
defaults) with Ax's own helpers, picks the route Ax would pick (``determine_optimizer``), and
then calls acqopt for it:

- ``optimize_acqf`` (continuous space; integers relaxed; one-hot choices):
  ``acqopt.optimize_acqf``;
- ``optimize_acqf_mixed`` (<= 10 discrete combinations): ``acqopt.optimize_acqf_mixed``;
- ``optimize_acqf_mixed_alternating`` (> 10 combinations, or fully discrete with a parameter
  of > 100 values): ``acqopt.optimize_acqf_mixed_alternating``;
- ``optimize_acqf_discrete`` (fully discrete, <= 10 000 points): ``acqopt.optimize_acqf_discrete``;
- ``optimize_acqf_discrete_local_search`` (fully discrete, > 10 000 points, every parameter
  <= 100 values): ``acqopt.optimize_acqf_mixed_alternating`` with every column discrete; its
  answer must keep local search's exclusions (no observed or pending point, no repeat in the
  batch); if it does not, or options only local search takes were given, Ax's own call;
- a ``candidate_set`` without a sampling strategy (``model_gen_options={"in_sample": True}``,
  Ax's ``select_from_candidate_set``): ``acqopt.optimize_acqf_discrete``;
- left to Ax: a ``candidate_set`` with a ``sampling_strategy`` (Thompson/Boltzmann sampling is
  not a maximisation) and ``optimize_with_nsgaii`` (multi-output acquisitions of Ax's
  ``MultiAcquisition``); also any route a newer Ax adds.

Every call left to Ax warns (``AcqoptAxWarning``, once per process and route) and is counted.
No name inside Ax's modules is rebound. Every call acqopt answers is counted on the class:
``acqopt_calls`` (all routes) and ``acqopt_routes`` (by Ax route name); calls left to Ax are
counted in ``ax_fallbacks``.

    >>> from ax.api.client import Client
    >>> from acqopt.integrations.ax import generation_strategy
    >>> client = Client()
    >>> client.configure_experiment(...)
    >>> client.configure_optimization(...)
    >>> client.set_generation_strategy(generation_strategy("cma-lbfgs", initial_trials=5))

Needs the ``ax`` extra (``pip install "acqopt[ax]"``). Ax's API moves between versions; this
module is the only place that knows it (written against ax-platform 1.3.1 / BoTorch 0.18.1; a
different ``Acquisition.optimize`` signature is warned about when a class is built).
"""

from __future__ import annotations

import collections
import inspect
import itertools
import warnings
from typing import Any

# Keywords every acqopt maximiser takes on top of BoTorch's signature; the rest of
# ``acquisition_class``'s options are fields of the method (``get_optimizer``).
_CALL_KEYWORDS = ("budget", "generator")
# Ax 1.3.1's ``Acquisition.optimize`` parameters (after ``self``).
_AX_OPTIMIZE_PARAMETERS = ("n", "search_space_digest", "inequality_constraints",
                           "equality_constraints", "fixed_features", "rounding_func",
                           "optimizer_options", "candidate_set", "sampling_strategy")
# Ax's ``optimizer_argparse`` output for the local-search route that the mapping onto
# ``optimize_acqf_mixed_alternating`` carries over; anything else (``max_batch_size``,
# ``max_tries``, ``unique``, ...) only local search understands.
_LOCAL_SEARCH_MAPPABLE = frozenset({"num_restarts", "raw_samples"})

_warned: set[str] = set()


class AcqoptAxWarning(UserWarning):
    """An Ax route that acqopt's plug-in leaves to Ax (or an Ax it was not written for)."""


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, AcqoptAxWarning, stacklevel=3)


def acquisition_class(method: str = "lbfgs", **options: Any) -> type:
    """An Ax ``Acquisition`` subclass whose acquisition maximisation is done by acqopt.

    Args:
        method: The acqopt method.
        **options: ``budget`` and ``generator`` (passed to every acqopt maximiser) and fields
            of the method (passed where the acqopt maximiser takes them; see the module
            docstring for the routes).

    Returns:
        A new class; its ``acqopt_calls`` counts the calls acqopt answered, ``acqopt_routes``
        and ``ax_fallbacks`` count them (and those left to Ax) by Ax's route name.
    """
    import torch
    from ax.exceptions.core import SearchSpaceExhausted
    from ax.generators.torch.botorch_modular import acquisition as ax_acquisition
    from ax.generators.torch.botorch_modular.optimizer_argparse import optimizer_argparse
    from ax.generators.torch.botorch_modular.utils import validate_candidates
    from ax.generators.utils import enumerate_discrete_combinations, mk_discrete_choices
    from botorch.exceptions.errors import InputDataError

    import acqopt
    from acqopt.api import get_optimizer

    Acquisition = ax_acquisition.Acquisition
    determine_optimizer = ax_acquisition.determine_optimizer

    fields = {k: v for k, v in options.items() if k not in _CALL_KEYWORDS}
    call_keywords = {k: options[k] for k in _CALL_KEYWORDS if k in options}
    get_optimizer(method, **fields)  # an unknown name or field fails here, not inside Ax

    parameters = tuple(inspect.signature(Acquisition.optimize).parameters)[1:]
    if parameters != _AX_OPTIMIZE_PARAMETERS:
        _warn_once("signature", f"acqopt.integrations.ax was written for ax-platform 1.3.1, whose "
                   f"Acquisition.optimize takes {_AX_OPTIMIZE_PARAMETERS}; this Ax's takes "
                   f"{parameters}")

    def acqopt_function(route: str, name: str):
        """``acqopt.<name>`` and its keywords: ``method`` where it takes one, the method's
        fields where it takes them (a one-time warning names those it does not use)."""
        function = getattr(acqopt, name)
        signature = inspect.signature(function).parameters
        open_ended = any(p.kind is p.VAR_KEYWORD for p in signature.values())
        keywords = dict(call_keywords)
        if "method" in signature:
            keywords["method"] = method
        if fields:
            if open_ended or all(k in signature for k in fields):
                keywords.update(fields)
            else:
                _warn_once(f"fields:{name}", f"acqopt.{name} takes no method fields; "
                           f"{sorted(fields)} are not used on Ax's route {route!r}")
        return function, keywords

    def optimize(self, n, search_space_digest, inequality_constraints=None,
                 equality_constraints=None, fixed_features=None, rounding_func=None,
                 optimizer_options=None, candidate_set=None, sampling_strategy=None):
        """Ax 1.3.1's ``Acquisition.optimize`` (same arguments, same checks, same return:
        ``(candidates, acq_values, arm_weights)``) with acqopt maximising the acquisition."""

        def ax_own(route: str, why: str):
            # Once per process and route (the first reason is the one named).
            _warn_once(f"route:{route}", f"acqopt does not answer Ax's route {route!r} "
                       f"({why}); Ax's own maximiser is used")
            cls.ax_fallbacks[route] += 1
            return Acquisition.optimize(
                self, n=n, search_space_digest=search_space_digest,
                inequality_constraints=inequality_constraints,
                equality_constraints=equality_constraints, fixed_features=fixed_features,
                rounding_func=rounding_func, optimizer_options=optimizer_options,
                candidate_set=candidate_set, sampling_strategy=sampling_strategy)

        def answered(route: str) -> None:
            cls.acqopt_calls += 1
            cls.acqopt_routes[route] += 1

        # 0. A given candidate set (Ax 1.3.1 acquisition.py:658-668 -> select_from_candidate_set,
        # 484-599).
        if candidate_set is not None and sampling_strategy is None:
            route = "select_from_candidate_set/optimize_acqf_discrete"
            function, keywords = acqopt_function(route, "optimize_acqf_discrete")
            if candidate_set.shape[0] == 0:  # Ax's checks, acquisition.py:527-535
                raise ValueError(
                    "`candidate_set` is empty. Provide a non-empty set of candidates.")
            if candidate_set.shape[0] < n:
                raise ValueError(
                    f"`candidate_set` has {candidate_set.shape[0]} candidates, "
                    f"but {n} were requested. Provide at least {n} candidates.")
            candidates, acqf_values = function(acq_function=self.acqf, q=n,
                                               choices=candidate_set, unique=True, **keywords)
            answered(route)
            weights = torch.ones(candidates.shape[0], dtype=self.dtype, device=self.device)
            return candidates, acqf_values, weights
        if sampling_strategy is not None:
            if candidate_set is None:  # Ax raises its ValueError
                return Acquisition.optimize(self, n, search_space_digest,
                                            sampling_strategy=sampling_strategy)
            return ax_own("select_from_candidate_set/sampling_strategy",
                          "posterior sampling, not a maximisation")

        # 1. Ax's checks and preparation, acquisition.py:676-722.
        if optimizer_options is not None:
            for kw in optimizer_options:
                if kw in ("equality_constraints", "inequality_constraints",
                          "batch_initial_conditions", "return_best_only", "return_full_tree"):
                    raise ValueError(f"Argument {kw} is not allowed in `optimizer_options`.")
            optimizer_options = dict(optimizer_options)  # Ax pops from the caller's dict
        ssd = search_space_digest
        bounds = torch.tensor(ssd.bounds, dtype=self.dtype, device=self.device).t()
        discrete_choices = mk_discrete_choices(ssd=ssd, fixed_features=fixed_features)
        optimizer = determine_optimizer(search_space_digest=ssd,
                                        discrete_choices=discrete_choices, acqf=self.acqf)
        if optimizer == "optimize_with_nsgaii":
            return ax_own(optimizer, "multi-output acquisition: acqopt has no NSGA-II")
        if optimizer == "optimize_acqf_discrete" and optimizer_options is not None:
            optimizer_options.pop("raw_samples", None)
            optimizer_options.pop("num_restarts", None)
        kwargs = optimizer_argparse(self.acqf, optimizer_options=optimizer_options,
                                    optimizer=optimizer)
        if fixed_features is not None:
            for i in fixed_features:
                if not 0 <= i < len(ssd.feature_names):
                    raise ValueError(f"Invalid fixed_feature index: {i}")
        arm_weights = torch.ones(n, dtype=self.dtype)

        # 2. The maximiser, acquisition.py:724-855.
        if optimizer == "optimize_acqf":
            function, keywords = acqopt_function(optimizer, "optimize_acqf")
            candidates, acqf_values = function(
                acq_function=self.acqf, bounds=bounds, q=n,
                inequality_constraints=inequality_constraints,
                equality_constraints=equality_constraints, fixed_features=fixed_features,
                post_processing_func=rounding_func,
                acq_function_sequence=self.acq_function_sequence, **kwargs, **keywords)
        elif optimizer in ("optimize_acqf_discrete", "optimize_acqf_discrete_local_search"):
            if equality_constraints:
                raise ValueError("Equality constraints are not supported with discrete "
                                 f"optimizer '{optimizer}'.")
            X_avoid = self.X_observed
            if self.X_pending is not None:
                X_avoid = self.X_pending if X_avoid is None else \
                    torch.cat([X_avoid, self.X_pending], dim=0)
            if optimizer == "optimize_acqf_discrete_local_search":
                unmappable = sorted(set(kwargs) - _LOCAL_SEARCH_MAPPABLE)
                if unmappable:
                    return ax_own(optimizer, f"options {unmappable} only apply to local search")
                function, keywords = acqopt_function(optimizer,
                                                     "optimize_acqf_mixed_alternating")
                candidates, acqf_values = function(
                    acq_function=self.acqf, bounds=bounds, **_mixed_dims(ssd), q=n,
                    post_processing_func=rounding_func, fixed_features=fixed_features,
                    inequality_constraints=inequality_constraints,
                    equality_constraints=equality_constraints,
                    **optimizer_argparse(self.acqf, optimizer_options=kwargs,
                                         optimizer="optimize_acqf_mixed_alternating"),
                    **keywords)
                why = _breaks_exclusion(candidates, X_avoid)
                if why:
                    return ax_own(optimizer, f"the mixed alternating answer {why}, which "
                                  f"local search's X_avoid/unique exclude")
                answered(optimizer)
                validate_candidates(  # as Ax does for this route, acquisition.py:768-784
                    candidates=candidates, bounds=bounds,
                    discrete_choices=ssd.discrete_choices if ssd.discrete_choices else None,
                    inequality_constraints=inequality_constraints,
                    feature_names=ssd.feature_names, task_features=ssd.task_features)
                n_candidates = candidates.shape[0]
                return candidates, acqf_values, arm_weights[:n_candidates] * n_candidates / n
            function, keywords = acqopt_function(optimizer, "optimize_acqf_discrete")
            all_choices = torch.tensor(
                tuple(itertools.product(*(discrete_choices[i]
                                          for i in range(len(discrete_choices))))),
                dtype=self.dtype, device=self.device)
            max_batch_size = kwargs.pop("max_batch_size", 2048)
            try:
                max_batch_size = max_batch_size // self.surrogate.model.batch_shape.numel()
            except Exception:  # as Ax: a model without a batch shape keeps the size
                pass
            try:
                candidates, acqf_values = function(
                    acq_function=self.acqf, q=n, choices=all_choices, max_batch_size=max_batch_size,
                    X_avoid=X_avoid, inequality_constraints=inequality_constraints,
                    **kwargs, **keywords)
            except InputDataError:
                raise SearchSpaceExhausted(
                    "No more feasible choices in a fully discrete search space.")
        elif optimizer == "optimize_acqf_mixed":
            function, keywords = acqopt_function(optimizer, "optimize_acqf_mixed")
            candidates, acqf_values = function(
                acq_function=self.acqf, bounds=bounds, q=n,
                fixed_features_list=enumerate_discrete_combinations(
                    discrete_choices=discrete_choices),
                inequality_constraints=inequality_constraints,
                equality_constraints=equality_constraints,
                post_processing_func=rounding_func, **kwargs, **keywords)
        elif optimizer == "optimize_acqf_mixed_alternating":
            function, keywords = acqopt_function(optimizer, "optimize_acqf_mixed_alternating")
            candidates, acqf_values = function(
                acq_function=self.acqf, bounds=bounds, **_mixed_dims(ssd), q=n,
                post_processing_func=rounding_func, fixed_features=fixed_features,
                inequality_constraints=inequality_constraints,
                equality_constraints=equality_constraints, **kwargs, **keywords)
        else:  # a route this module does not know (a newer Ax)
            return ax_own(optimizer, "unknown to acqopt.integrations.ax")
        answered(optimizer)

        # 3. Ax's post-processing, acquisition.py:886-916.
        if self.options.get("prune_irrelevant_parameters", False) and not isinstance(
                self.acqf, ax_acquisition.qLogProbabilityOfFeasibility):
            if self._pruning_target_point is None:
                ax_acquisition.logger.info(
                    "Must specify pruning_target_point to prune irrelevant "
                    "parameters. Skipping pruning irrelevant parameters.")
            else:
                candidates, acqf_values = self._prune_irrelevant_parameters(
                    candidates=candidates, search_space_digest=search_space_digest,
                    inequality_constraints=inequality_constraints,
                    equality_constraints=equality_constraints, fixed_features=fixed_features,
                    bounds=bounds)
        validate_candidates(
            candidates=candidates, bounds=bounds,
            discrete_choices=discrete_choices if discrete_choices else None,
            inequality_constraints=inequality_constraints,
            feature_names=search_space_digest.feature_names,
            task_features=search_space_digest.task_features,
            equality_constraints=equality_constraints)
        n_candidates = candidates.shape[0]
        return candidates, acqf_values, arm_weights[:n_candidates] * n_candidates / n

    name = f"AcqoptAcquisition_{method.replace('-', '_')}"
    cls = type(name, (Acquisition,), {
        "optimize": optimize,
        "acqopt_method": method,
        "acqopt_calls": 0,
        "acqopt_routes": collections.Counter(),
        "ax_fallbacks": collections.Counter(),
        "__module__": __name__,
    })
    return cls


def _mixed_dims(ssd) -> dict:
    """Ax's ``discrete_dims``/``cat_dims`` for ``optimize_acqf_mixed_alternating``
    (acquisition.py:839-848): from ``ssd.discrete_choices``, fixed features not merged in."""
    return {
        "discrete_dims": {k: list(v) for k, v in ssd.discrete_choices.items()
                          if k in ssd.ordinal_features},
        "cat_dims": {k: list(v) for k, v in ssd.discrete_choices.items()
                     if k in ssd.categorical_features},
    }


def _breaks_exclusion(candidates, X_avoid) -> str:
    """Why ``candidates`` break local search's exclusions (``X_avoid``, ``unique=True``), or
    '' (exact comparison, as BoTorch's ``_filter_invalid``)."""
    if X_avoid is not None and X_avoid.shape[0]:
        avoided = (candidates.unsqueeze(-2) == X_avoid.to(candidates)).all(-1).any(-1)
        if bool(avoided.any()):
            return "repeats an observed or pending point"
    if candidates.shape[0] > 1 and \
            len({tuple(row) for row in candidates.tolist()}) < candidates.shape[0]:
        return "repeats a point within the batch"
    return ""


def generation_strategy(method: str | None = "lbfgs", *, initial_trials: int = 5,
                        **options: Any):
    """A ``GenerationStrategy`` for an Ax ``Client``: Sobol for ``initial_trials`` trials, then
    Ax's modular BoTorch generator (its default model and acquisition) with acqopt's ``method``
    maximising the acquisition; ``method=None`` keeps Ax's own maximiser (the same strategy
    otherwise, for paired comparisons)."""
    from ax.adapter.registry import Generators
    from ax.generation_strategy.generation_node import GenerationStep
    from ax.generation_strategy.generation_strategy import GenerationStrategy

    if isinstance(initial_trials, bool) or not isinstance(initial_trials, int) or \
            initial_trials < 1:
        raise ValueError(f"initial_trials: expected an int >= 1, got {initial_trials!r}")
    if method is None and options:
        raise ValueError(f"options {sorted(options)} need an acqopt method; method is None")
    kwargs = {} if method is None else {"acquisition_class": acquisition_class(method, **options)}
    return GenerationStrategy(
        name=f"Sobol+BoTorch+{'acqopt-' + method if method else 'Ax'}",
        nodes=[
            GenerationStep(generator=Generators.SOBOL, num_trials=initial_trials),
            GenerationStep(generator=Generators.BOTORCH_MODULAR, num_trials=-1,
                           generator_kwargs=kwargs),
        ],
    )
