"""The public entry points: a drop-in ``optimize_acqf`` and the method registry."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import torch
from torch import Tensor

from acqopt import methods as _methods  # noqa: F401  (registers the methods)
from acqopt.base import BaseOptimizer, GeneratorLike, OptimizeResult, check_bounds
from acqopt.registry import lookup, names

# BoTorch options that mean something here, and the config fields they set.
_BOTORCH_ALIASES = {"num_restarts": "num_restarts", "raw_samples": "raw_samples"}


def available_methods() -> list[str]:
    """Names of the registered methods, sorted."""
    return names()


def get_optimizer(name: str, **options: object) -> BaseOptimizer:
    """The optimizer registered as ``name``, configured with ``options``.

    Raises:
        ValueError: For an unknown name (listing the available ones) or an option the method
            does not have (listing its options), or an invalid option value.
    """
    cls = lookup(name)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(options) - fields)
    if unknown:
        raise ValueError(
            f"method {name!r} has no option(s) {unknown}; its options are: "
            f"{', '.join(sorted(fields)) or '(none)'}"
        )
    return cls(**options)


def optimize_acqf(
    acq_function: torch.nn.Module,
    bounds: Tensor,
    q: int = 1,
    *,
    method: str = "lbfgs",
    budget: int | None = None,
    generator: GeneratorLike = None,
    num_restarts: int | None = None,
    raw_samples: int | None = None,
    fixed_features: Mapping[int, float] | None = None,
    timeout_sec: float | None = None,
    **method_options: object,
) -> tuple[Tensor, Tensor]:
    """Maximises an acquisition function; a drop-in for ``botorch.optim.optimize_acqf``.

    Args:
        acq_function: A BoTorch acquisition function (or any module mapping ``b x q x d`` to
            ``b`` values).
        bounds: A ``2 x d`` tensor of lower and upper bounds.
        q: The number of candidates chosen jointly.
        method: A name from :func:`available_methods`.
        budget: The most acquisition queries (candidates evaluated, ``q x d`` each) to spend;
            None for the method's documented default.
        generator: An int seed, a CPU ``torch.Generator``, or None.
        num_restarts: BoTorch's option, for methods that have restarts.
        raw_samples: BoTorch's option, for methods that score raw samples.
        fixed_features: ``{column: value}``; those columns are held at the value.
        timeout_sec: Stop once this many seconds have passed, returning the best so far.
        **method_options: Fields of the method's config (see ``get_optimizer``).

    Returns:
        ``(candidates, acq_value)``: a ``q x d`` tensor inside ``bounds`` and its acquisition
        value as a 0-dim tensor, as BoTorch returns with ``return_best_only=True``.

    Example:
        >>> candidates, value = acqopt.optimize_acqf(acq, bounds, q=1, method="cma-lbfgs",
        ...                                          budget=1000, generator=0)
    """
    for key, value in (("num_restarts", num_restarts), ("raw_samples", raw_samples)):
        if value is not None:
            method_options[_BOTORCH_ALIASES[key]] = value
    optimizer = get_optimizer(method, **method_options)
    result = optimize_with_fixed_features(
        optimizer,
        acq_function,
        bounds,
        q=q,
        budget=budget,
        generator=generator,
        fixed_features=fixed_features,
        timeout_sec=timeout_sec,
    )
    return result.candidates, result.acq_value


def optimize_with_fixed_features(
    optimizer: BaseOptimizer,
    acq_function: torch.nn.Module,
    bounds: Tensor,
    *,
    q: int = 1,
    budget: int | None = None,
    generator: GeneratorLike = None,
    fixed_features: Mapping[int, float] | None = None,
    timeout_sec: float | None = None,
) -> OptimizeResult:
    """Runs ``optimizer`` over the free columns only, holding ``fixed_features`` fixed.

    The candidates of the returned result have all ``d`` columns.
    """
    if not fixed_features:
        return optimizer.optimize(
            acq_function, bounds, q=q, budget=budget, generator=generator, timeout_sec=timeout_sec
        )
    from botorch.acquisition.fixed_feature import FixedFeatureAcquisitionFunction

    bounds = check_bounds(bounds)
    d = bounds.shape[-1]
    if not isinstance(fixed_features, Mapping):
        raise ValueError("fixed_features: expected a mapping {column: value}")
    columns = sorted(fixed_features)
    for c in columns:
        if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c < d:
            raise ValueError(f"fixed_features: columns must be ints in [0, {d}), got {c!r}")
        v = float(fixed_features[c])
        if not bounds[0, c] <= v <= bounds[1, c]:
            raise ValueError(f"fixed_features: value {v} of column {c} is outside bounds")
    if len(columns) == d:
        raise ValueError("fixed_features: every column is fixed; there is nothing to optimise")
    free = [c for c in range(d) if c not in fixed_features]
    values = [float(fixed_features[c]) for c in columns]
    wrapped = FixedFeatureAcquisitionFunction(acq_function, d=d, columns=columns, values=values)
    result = optimizer.optimize(
        wrapped, bounds[:, free], q=q, budget=budget, generator=generator, timeout_sec=timeout_sec
    )
    full = wrapped._construct_X_full(result.candidates.unsqueeze(0)).squeeze(0)
    return dataclasses.replace(result, candidates=full.to(bounds))
