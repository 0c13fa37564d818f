"""The public entry points: a drop-in ``optimize_acqf`` and the method registry."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import torch
from torch import Tensor

from acqopt import methods as _methods  # noqa: F401  (registers the methods)
from acqopt.base import (
    QUERIES_PER_RESTART,
    BaseOptimizer,
    GeneratorLike,
    OptimizeResult,
    as_generator,
    check_bounds,
    check_initial_conditions,
    check_q,
    is_analytic,
    positive_int,
)
from acqopt.constraints import normalize_fixed_features
from acqopt.registry import lookup, names

# BoTorch's ``options`` keys. Those in OPTION_FIELDS set a config field (of the method, or of its
# ``local`` search, when it has that field); those in HARMLESS_OPTIONS only tune BoTorch's own
# scipy call or its batching, which acqopt does its own way (every start in one batch): accepted,
# no effect. ``seed`` seeds the call when ``generator`` is None. Any other key is a ValueError.
OPTION_FIELDS = {"maxiter": "max_iter", "ftol": "ftol", "gtol": "gtol", "eta": "eta"}
HARMLESS_OPTIONS = frozenset({
    "batch_limit", "init_batch_limit", "method", "disp", "maxfun", "maxls", "with_grad",
    "nonnegative", "max_optimization_problem_aggregation_size", "topn", "retry_on_optimization_warning",
})


def available_methods() -> list[str]:
    """Names of the registered methods, sorted."""
    return names()


def get_optimizer(name: str, **options: object) -> BaseOptimizer:
    """The optimizer registered as ``name``, configured with ``options``.

    Raises:
        ValueError: For an unknown name (listing the available ones) or an option the method
            does not have (listing its options), or an invalid option value.
    """
    preset = lookup(name)
    fields = {f.name for f in dataclasses.fields(preset)} - {"name"}
    unknown = sorted(set(options) - fields)
    if unknown:
        raise ValueError(
            f"method {name!r} has no option(s) {unknown}; its options are: "
            f"{', '.join(sorted(fields)) or '(none)'}"
        )
    return dataclasses.replace(preset, **options)


def optimize_acqf(
    acq_function: torch.nn.Module,
    bounds: Tensor,
    q: int = 1,
    num_restarts: int | None = None,
    raw_samples: int | None = None,
    options: Mapping[str, object] | None = None,
    inequality_constraints: list | None = None,
    equality_constraints: list | None = None,
    nonlinear_inequality_constraints: list | None = None,
    fixed_features: Mapping[int, float] | None = None,
    post_processing_func: Callable[[Tensor], Tensor] | None = None,
    batch_initial_conditions: Tensor | None = None,
    return_best_only: bool = True,
    gen_candidates: object = None,
    sequential: bool = False,
    acq_function_sequence: list | None = None,
    *,
    method: str = "lbfgs",
    budget: int | None = None,
    generator: GeneratorLike = None,
    timeout_sec: float | None = None,
    return_acq_values: bool = True,
    return_full_tree: bool = False,
    retry_on_optimization_warning: bool = True,
    ic_generator: object = None,
    **method_options: object,
) -> tuple[Tensor, Tensor | None]:
    """Maximises an acquisition function; a drop-in for ``botorch.optim.optimize_acqf``.

    The positional order and meaning are BoTorch 0.18's; ``method``, ``budget``, ``generator``
    and the method's own config fields come on top, by keyword.

    Args:
        acq_function: A BoTorch acquisition function (or any module mapping ``b x q x d`` to
            ``b`` values). One-shot acquisitions (``qKnowledgeGradient``) are optimised over
            their augmented ``q + num_fantasies`` batch, and the candidates extracted.
        bounds: A ``2 x d`` tensor of lower and upper bounds.
        q: The number of candidates.
        num_restarts, raw_samples: BoTorch's multi-start setting; each method reads them as
            its closest meaning (README, "BoTorch's arguments"). With ``budget=None``, a
            budget-driven method gets ``raw_samples + 50 * num_restarts`` queries (what BoTorch
            spends, median over the landscapes).
        options: BoTorch's options: ``maxiter``, ``ftol``, ``gtol``, ``eta`` set the method's
            fields; ``sample_around_best`` picks the design (``"mix"`` or ``"sobol"``);
            ``seed`` seeds the call when ``generator`` is None; ``batch_limit``,
            ``init_batch_limit``, ``method``, ``disp``, ``maxfun``, ``maxls``, ``with_grad``,
            ``nonnegative``, ``topn`` are accepted with no effect; others are a ``ValueError``.
        inequality_constraints, equality_constraints: Intra-point linear constraints,
            BoTorch's ``[(indices, coefficients, rhs)]``; every evaluated and returned point
            satisfies them (to 1e-6).
        nonlinear_inequality_constraints: Not supported (a ``ValueError``).
        fixed_features: ``{column: value}``; negative columns count from the end.
        post_processing_func: Applied to the returned candidates, whose acquisition value is
            then computed once more (outside the method's budget), as BoTorch does.
        batch_initial_conditions: ``b x q x d`` warm starts (how each method uses them: see
            :meth:`acqopt.base.BaseOptimizer.optimize`).
        return_best_only: False returns ``k x q x d`` candidates and ``k`` values, best first:
            the distinct local optima of restart methods, the best distinct points found by
            population methods; ``k`` is ``num_restarts`` (10 if not given) or fewer.
        gen_candidates, ic_generator: BoTorch's own optimiser hooks; only None is accepted.
        sequential: With ``q > 1``, choose the candidates one at a time, each with the earlier
            ones as the acquisition's ``X_pending`` (BoTorch's greedy sequential selection);
            the budget is split evenly.
        acq_function_sequence: ``q`` acquisitions for the ``q`` sequential steps.
        method: A name from :func:`available_methods`.
        budget: The most acquisition queries (candidates evaluated, ``q x d`` each) to spend;
            None for the method's default or the BoTorch setting above.
        generator: An int seed or a CPU ``torch.Generator`` (the global RNG is never touched),
            or None: one seed is drawn from torch's global generator, so ``torch.manual_seed``
            before the call reproduces it, as with BoTorch.
        timeout_sec: Stop once this many seconds have passed, returning the best so far.
        return_acq_values: False returns ``(candidates, None)``.
        return_full_tree: For one-shot acquisitions, return the whole augmented batch.
        retry_on_optimization_warning: Accepted, no effect (acqopt raises no such warning).
        **method_options: Fields of the method's config (see ``get_optimizer``).

    Returns:
        ``(candidates, acq_value)``: ``q x d`` and a 0-dim tensor (``q`` values when
        ``sequential``), or ``k x q x d`` and ``k`` with ``return_best_only=False``.

    Example:
        >>> candidates, value = acqopt.optimize_acqf(acq, bounds, 1, 10, 512, method="cma-lbfgs")
    """
    if nonlinear_inequality_constraints:
        raise ValueError(
            "nonlinear_inequality_constraints: not supported by acqopt; use linear "
            "inequality_constraints or BoTorch's optimize_acqf"
        )
    for name, value in (("gen_candidates", gen_candidates), ("ic_generator", ic_generator)):
        if value is not None:
            raise ValueError(f"{name}: BoTorch's optimiser hooks do not apply to acqopt; pass None")
    for name, value in (("return_best_only", return_best_only), ("sequential", sequential),
                        ("return_acq_values", return_acq_values),
                        ("return_full_tree", return_full_tree),
                        ("retry_on_optimization_warning", retry_on_optimization_warning)):
        if not isinstance(value, bool):
            raise ValueError(f"{name}: expected a bool, got {value!r}")
    if post_processing_func is not None and not callable(post_processing_func):
        raise ValueError("post_processing_func: expected a callable or None")
    for name, value in (("num_restarts", num_restarts), ("raw_samples", raw_samples)):
        if value is not None:
            positive_int(name, value)
    bounds = check_bounds(bounds)
    optimizer, seed = _configure(method, num_restarts, raw_samples, options, method_options)
    steps = q if (sequential and q > 1 or acq_function_sequence is not None) else 1
    if budget is None and (num_restarts or raw_samples) and not optimizer.converges():
        # What BoTorch spends at this setting, per sequential step, and at least what the
        # method needs (e.g. its own raw samples when only num_restarts is given).
        d = bounds.shape[-1]
        step_q = 1 if steps > 1 else q
        per_step = max((raw_samples or 0) + QUERIES_PER_RESTART * (num_restarts or 0),
                       optimizer.min_budget(step_q, d))
        budget = per_step * steps
    if generator is None and seed is not None:
        generator = seed
    call = dict(budget=budget, generator=generator, timeout_sec=timeout_sec,
                fixed_features=fixed_features, inequality_constraints=inequality_constraints,
                equality_constraints=equality_constraints)
    if sequential and q > 1 or acq_function_sequence is not None:
        X, values = _sequential(optimizer, acq_function, acq_function_sequence, bounds, q,
                                batch_initial_conditions, return_best_only, post_processing_func,
                                call)
    else:
        k = (num_restarts or 10) if not return_best_only else 0
        result = optimize_with_fixed_features(optimizer, acq_function, bounds, q=q,
                                              batch_initial_conditions=batch_initial_conditions,
                                              num_best=k, **call)
        X, values = _answer(result, acq_function, return_best_only, return_full_tree)
        X, values = _post_process(post_processing_func, acq_function, X, values)
    return X, (values if return_acq_values else None)


def _post_process(func, acq_function, X: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
    """BoTorch's ``post_processing_func``: applied to the candidates, which are then valued
    once more (one evaluation outside the method's budget)."""
    if func is None:
        return X, values
    X = func(X)
    if not isinstance(X, Tensor):
        raise ValueError("post_processing_func: expected it to return a tensor")
    with torch.no_grad():
        batch = X if X.dim() == 3 else X.unsqueeze(0)
        values = acq_function(batch).reshape(values.shape).to(values)
    return X, values


def _configure(method, num_restarts, raw_samples, options, method_options):
    """The optimizer for ``method`` with BoTorch's setting and options mapped onto its fields;
    returns it and ``options["seed"]`` (or None)."""
    default = lookup(method)
    fields = {f.name: f for f in dataclasses.fields(default)}
    config = dict(default.botorch_setting(num_restarts, raw_samples) if (
        num_restarts or raw_samples) else {})
    local_config = {}
    seed = None
    if options is not None and not isinstance(options, Mapping):
        raise ValueError("options: expected a dict of BoTorch options or None")
    for key, value in dict(options or {}).items():
        if key in HARMLESS_OPTIONS:
            continue
        if key == "seed":
            seed = value
        elif key == "sample_around_best":
            if not isinstance(value, bool):
                raise ValueError(f"options['sample_around_best']: expected a bool, got {value!r}")
            if "design" in fields:
                config["design"] = "mix" if value else "sobol"
        elif key in OPTION_FIELDS:
            target = OPTION_FIELDS[key]
            if target in fields:
                config[target] = value
            elif "local" in fields:
                local_config[target] = value
        else:
            raise ValueError(
                f"options: unknown key {key!r}; acqopt reads {sorted(OPTION_FIELDS)}, "
                "'sample_around_best' and 'seed', and accepts with no effect "
                f"{sorted(HARMLESS_OPTIONS)}"
            )
    config.update(method_options)
    if local_config and "local" not in method_options:
        local = default.local
        names = {f.name for f in dataclasses.fields(local)}
        usable = {k: v for k, v in local_config.items() if k in names}
        if usable:
            config["local"] = dataclasses.replace(local, **usable)
    return get_optimizer(method, **config), seed


def _answer(result: OptimizeResult, acq_function, return_best_only: bool, full_tree: bool):
    """(candidates, values) as BoTorch returns them, one-shot candidates extracted."""
    if return_best_only:
        X, values = result.candidates, result.acq_value
    else:
        X = result.info.get("best_points", result.candidates.unsqueeze(0))
        values = result.info.get("best_values", result.acq_value.reshape(1))
    if is_one_shot(acq_function) and not full_tree:
        X = acq_function.extract_candidates(X)
    return X, values


def _sequential(optimizer, acq_function, sequence, bounds, q, initial, return_best_only, post,
                call):
    """BoTorch's greedy sequential selection: candidate i with candidates < i pending."""
    if sequence is not None and (not isinstance(sequence, (list, tuple)) or len(sequence) != q):
        raise ValueError(f"acq_function_sequence: expected a list of q={q} acquisitions")
    if not return_best_only:
        raise ValueError("return_best_only: False is not supported with sequential=True "
                         "(as in BoTorch)")
    acqs = list(sequence) if sequence is not None else [acq_function] * q
    for acq in acqs:
        if not hasattr(acq, "set_X_pending") or is_analytic(acq):
            raise ValueError(
                f"sequential: {type(acq).__name__} cannot condition on pending points; use a "
                "Monte-Carlo acquisition (e.g. qLogExpectedImprovement)"
            )
    budget = call["budget"]
    call = dict(call, generator=as_generator(call["generator"]))  # one stream for all steps
    if budget is not None and budget < q:
        raise ValueError(f"budget: sequential selection of q={q} needs at least q queries")
    if initial is not None:
        check_initial_conditions(initial, bounds, q)
    chosen: list[Tensor] = []
    values: list[Tensor] = []
    base = [getattr(acq, "X_pending", None) for acq in acqs]
    try:
        for i, acq in enumerate(acqs):
            if chosen:
                pending = torch.cat(chosen)
                acq.set_X_pending(pending if base[i] is None else torch.cat([base[i], pending]))
            step = dict(call, budget=None if budget is None else budget // q)
            warm = None if initial is None else initial[:, i:i + 1]
            result = optimize_with_fixed_features(optimizer, acq, bounds, q=1,
                                                  batch_initial_conditions=warm, **step)
            X, value = _post_process(post, acq, result.candidates, result.acq_value)
            chosen.append(X)
            values.append(value)
    finally:
        for acq, pending in zip(acqs, base):
            acq.set_X_pending(pending)
    return torch.cat(chosen), torch.stack(values)


def is_one_shot(acq_function) -> bool:
    from botorch.acquisition.acquisition import OneShotAcquisitionFunction

    return isinstance(acq_function, OneShotAcquisitionFunction)


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
    inequality_constraints: list | None = None,
    equality_constraints: list | None = None,
    batch_initial_conditions: Tensor | None = None,
    num_best: int = 0,
) -> OptimizeResult:
    """Runs ``optimizer`` over the free columns only, holding ``fixed_features`` fixed.

    One-shot acquisitions run on their augmented ``q``. The candidates of the returned result
    (and ``info["best_points"]``) have all ``d`` columns.
    """
    bounds = check_bounds(bounds)
    if is_one_shot(acq_function):
        check_q(q, acq_function)
        q = acq_function.get_augmented_q_batch_size(q)
    fixed = normalize_fixed_features(fixed_features, bounds)
    run = dict(q=q, budget=budget, generator=generator, timeout_sec=timeout_sec, num_best=num_best)
    if not fixed:
        return optimizer.optimize(acq_function, bounds, inequality_constraints=inequality_constraints,
                                  equality_constraints=equality_constraints,
                                  batch_initial_conditions=batch_initial_conditions, **run)
    from botorch.acquisition.fixed_feature import FixedFeatureAcquisitionFunction

    d = bounds.shape[-1]
    columns = sorted(fixed)
    values = [fixed[c] for c in columns]
    free = [c for c in range(d) if c not in fixed]
    wrapped = FixedFeatureAcquisitionFunction(acq_function, d=d, columns=columns, values=values)
    if batch_initial_conditions is not None:
        batch_initial_conditions = check_initial_conditions(batch_initial_conditions, bounds, q)
        batch_initial_conditions = (bounds[0] + batch_initial_conditions
                                    * (bounds[1] - bounds[0]))[..., free]
    result = optimizer.optimize(
        wrapped, bounds[:, free], batch_initial_conditions=batch_initial_conditions,
        inequality_constraints=_reduce(inequality_constraints, fixed, free, "inequality_constraints"),
        equality_constraints=_reduce(equality_constraints, fixed, free, "equality_constraints"),
        **run,
    )

    def full(X: Tensor) -> Tensor:
        out = X.new_empty(*X.shape[:-1], d)
        out[..., free] = X
        for c in columns:
            out[..., c] = fixed[c]
        return out

    info = dict(result.info)
    for key in ("best_points", "local_optima"):
        if key in info:
            info[key] = full(info[key])
    return dataclasses.replace(result, candidates=full(result.candidates), info=info)


def _reduce(constraints, fixed: dict[int, float], free: list[int], name: str):
    """Constraints on all columns -> constraints on the free ones (fixed terms move to rhs)."""
    if not constraints:
        return constraints
    position = {c: i for i, c in enumerate(free)}
    out = []
    for k, item in enumerate(constraints):
        try:
            indices, coefficients, rhs = item
            indices = torch.as_tensor(indices).long().reshape(-1)
            coefficients = torch.as_tensor(coefficients).reshape(-1)
            rhs = float(rhs)
        except (TypeError, ValueError):
            raise ValueError(f"{name}[{k}]: expected a tuple (indices, coefficients, rhs)") from None
        keep = [i for i, c in enumerate(indices.tolist()) if c in position]
        rhs -= sum(float(coefficients[i]) * fixed[c] for i, c in enumerate(indices.tolist())
                   if c in fixed)
        if not keep:
            continue  # only fixed columns: BoTorch leaves such a constraint to the user too
        idx = torch.tensor([position[int(indices[i])] for i in keep])
        out.append((idx, coefficients[keep], rhs))
    return out
