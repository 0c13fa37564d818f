"""The public entry points: BoTorch's optimisers as drop-ins, and the method registry.

``optimize_acqf``, ``optimize_acqf_mixed_alternating``, ``optimize_acqf_mixed`` and
``optimize_acqf_discrete`` take BoTorch 0.18's arguments (``method``, ``budget`` and
``generator`` on top). The first three validate their arguments once, into one frozen
:class:`OptimizeAcqfInputs` (as BoTorch's ``OptimizeAcqfInputs``), and every path (joint,
sequential, mixed, one-shot) derives from it with ``dataclasses.replace``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from acqopt import methods as _methods  # noqa: F401  (registers the methods)
from acqopt.base import (
    QUERIES_PER_RESTART,
    BaseOptimizer,
    GeneratorLike,
    InfeasibleCandidateWarning,
    OptimizeResult,
    as_generator,
    check_bounds,
    check_initial_conditions,
    check_q,
    is_analytic,
    positive_int,
)
from acqopt.constraints import (
    FEASIBILITY_TOL,
    NonlinearConstraints,
    check_nonlinear,
    normalize_fixed_features,
    parse_constraints,
)
from acqopt.counting import CountingAcquisition, sequential_session
from acqopt.domain import normalize_grid
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


@dataclass(frozen=True, kw_only=True)
class OptimizeAcqfInputs:
    """The arguments of one acquisition maximisation, validated in ``__post_init__``.

    The fields are :func:`optimize_acqf`'s (see there), plus ``discrete_dims`` and
    ``cat_dims`` (:func:`optimize_acqf_mixed_alternating`) and ``method_options`` (the
    method's own config fields). Derived calls (one sequential step, one fixed-feature
    combination) are ``dataclasses.replace`` of it, so they are validated the same way.

    Raises:
        ValueError: Naming the argument and the expected form.
    """

    acq_function: torch.nn.Module
    bounds: Tensor
    q: int = 1
    num_restarts: int | None = None
    raw_samples: int | None = None
    options: Mapping[str, object] | None = None
    inequality_constraints: list | None = None
    equality_constraints: list | None = None
    nonlinear_inequality_constraints: list | None = None
    fixed_features: Mapping[int, float] | None = None
    post_processing_func: Callable[[Tensor], Tensor] | None = None
    batch_initial_conditions: Tensor | None = None
    return_best_only: bool = True
    sequential: bool = False
    acq_function_sequence: list | None = None
    discrete_dims: Mapping[int, Sequence[float]] | None = None
    cat_dims: Mapping[int, Sequence[float]] | None = None
    method: str = "lbfgs"
    budget: int | None = None
    generator: GeneratorLike = None
    timeout_sec: float | None = None
    return_acq_values: bool = True
    return_full_tree: bool = False
    method_options: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("return_best_only", "sequential", "return_acq_values", "return_full_tree"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise ValueError(f"{name}: expected a bool, got {value!r}")
        if self.post_processing_func is not None and not callable(self.post_processing_func):
            raise ValueError("post_processing_func: expected a callable or None")
        for name in ("num_restarts", "raw_samples"):
            value = getattr(self, name)
            if value is not None:
                positive_int(name, value)
        check_bounds(self.bounds)
        check_nonlinear(self.nonlinear_inequality_constraints)
        if self.discrete_dims is not None or self.cat_dims is not None:
            fixed = normalize_fixed_features(self.fixed_features, self.bounds)
            normalize_grid(self.discrete_dims, self.cat_dims, self.bounds, fixed)

    @property
    def steps(self) -> int:
        """Sequential steps: ``q`` for greedy sequential selection, else 1."""
        sequence = self.acq_function_sequence is not None
        return self.q if (self.sequential and self.q > 1 or sequence) else 1

    def configure(self) -> tuple[BaseOptimizer, GeneratorLike, int | None]:
        """The configured optimizer, the generator (``options["seed"]`` when no generator was
        given) and the budget (BoTorch's spend at ``num_restarts``/``raw_samples`` for a
        method that needs a budget, or with nonlinear constraints, when none was given)."""
        optimizer, seed = _configure(self.method, self.num_restarts, self.raw_samples,
                                     self.options, dict(self.method_options))
        budget = self.budget
        # With nonlinear constraints even a converging method gets a budget: each of its
        # steps is restored onto the constraints, and a local search that keeps landing off
        # them may take very long to meet its own stopping rule.
        bounded = not optimizer.converges() or bool(self.nonlinear_inequality_constraints)
        if budget is None and (self.num_restarts or self.raw_samples) and bounded:
            # What BoTorch spends at this setting, per sequential step, and at least what the
            # method needs (e.g. its own raw samples when only num_restarts is given).
            d = self.bounds.shape[-1]
            step_q = 1 if self.steps > 1 else self.q
            per_step = max((self.raw_samples or 0) + QUERIES_PER_RESTART * (self.num_restarts or 0),
                           optimizer.min_budget(step_q, d))
            budget = per_step * self.steps
        generator = seed if self.generator is None and seed is not None else self.generator
        return optimizer, generator, budget


def _refuse_hooks(gen_candidates, ic_generator, retry_on_optimization_warning) -> None:
    """BoTorch's arguments that acqopt does not take: a ``ValueError`` unless left unset."""
    for name, value in (("gen_candidates", gen_candidates), ("ic_generator", ic_generator)):
        if value is not None:
            raise ValueError(f"{name}: BoTorch's optimiser hooks do not apply to acqopt; pass None")
    if not isinstance(retry_on_optimization_warning, bool):
        raise ValueError("retry_on_optimization_warning: expected a bool, got "
                         f"{retry_on_optimization_warning!r}")


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
        nonlinear_inequality_constraints: BoTorch's ``[(callable, True)]``: ``callable(x)
            >= 0`` for each candidate (``x`` of shape ``d``, in ``bounds`` coordinates,
            differentiable by autograd). Unlike BoTorch, no feasible
            ``batch_initial_conditions`` are needed: every candidate is restored onto the
            constraints before it is evaluated (:class:`acqopt.constraints.NonlinearConstraints`)
            and every returned one satisfies them to 1e-6, or, if the budget found none, the
            least-violating one is returned with an
            :class:`acqopt.base.InfeasibleCandidateWarning`. Inter-point constraints
            (``False``) are a ``ValueError``.
        fixed_features: ``{column: value}``; negative columns count from the end.
        post_processing_func: Applied to the returned candidates, whose acquisition value is
            then computed once more (outside the method's budget), as BoTorch does.
        batch_initial_conditions: ``b x q x d`` warm starts (how each method uses them: see
            :meth:`acqopt.base.BaseOptimizer.optimize`).
        return_best_only: False returns ``num_restarts x q x d`` candidates and
            ``num_restarts`` values (10 if not given), best first, as BoTorch returns one row
            per restart: the local searches' end points (repeats kept), filled up with the
            best distinct points evaluated (population methods have no restarts), the best
            repeated if the budget held fewer. The distinct local optima stay in
            ``OptimizeResult.info["local_optima"]`` (:meth:`acqopt.base.BaseOptimizer.optimize`).
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
        ``sequential``), or ``num_restarts x q x d`` and ``num_restarts`` with
        ``return_best_only=False``.

    Example:
        >>> candidates, value = acqopt.optimize_acqf(acq, bounds, 1, 10, 512, method="cma-lbfgs")
    """
    _refuse_hooks(gen_candidates, ic_generator, retry_on_optimization_warning)
    return _optimize(OptimizeAcqfInputs(
        acq_function=acq_function, bounds=bounds, q=q, num_restarts=num_restarts,
        raw_samples=raw_samples, options=options, inequality_constraints=inequality_constraints,
        equality_constraints=equality_constraints,
        nonlinear_inequality_constraints=nonlinear_inequality_constraints,
        fixed_features=fixed_features, post_processing_func=post_processing_func,
        batch_initial_conditions=batch_initial_conditions, return_best_only=return_best_only,
        sequential=sequential, acq_function_sequence=acq_function_sequence, method=method,
        budget=budget, generator=generator, timeout_sec=timeout_sec,
        return_acq_values=return_acq_values, return_full_tree=return_full_tree,
        method_options=method_options,
    ))


def optimize_acqf_mixed_alternating(
    acq_function: torch.nn.Module,
    bounds: Tensor,
    discrete_dims: Mapping[int, Sequence[float]] | Sequence[int] | None = None,
    cat_dims: Mapping[int, Sequence[float]] | None = None,
    options: Mapping[str, object] | None = None,
    q: int = 1,
    raw_samples: int | None = None,
    num_restarts: int | None = None,
    post_processing_func: Callable[[Tensor], Tensor] | None = None,
    sequential: bool = True,
    fixed_features: Mapping[int, float] | None = None,
    inequality_constraints: list | None = None,
    equality_constraints: list | None = None,
    return_acq_values: bool = True,
    *,
    method: str = "lbfgs",
    budget: int | None = None,
    generator: GeneratorLike = None,
    timeout_sec: float | None = None,
    **method_options: object,
) -> tuple[Tensor, Tensor | None]:
    """Maximises an acquisition over a mixed space; a drop-in for BoTorch's
    ``optimize_acqf_mixed_alternating``.

    The arguments are BoTorch 0.18's, in its order, with ``method``, ``budget``,
    ``generator``, ``timeout_sec`` and the method's fields on top, by keyword. Every method
    searches the grid natively (its docstring says how): every point it evaluates and returns
    takes allowed values in the grid columns; nothing is relaxed and rounded afterwards.

    Args:
        acq_function: A BoTorch acquisition function (e.g. on a ``MixedSingleTaskGP``).
        bounds: A ``2 x d`` tensor of lower and upper bounds.
        discrete_dims: ``{column: sorted allowed values}`` of ordered columns (integers,
            ordinals), or a list of columns that take every integer within their bounds.
        cat_dims: ``{column: allowed values}`` of unordered categorical columns (a category is
            one of the listed values, as BoTorch encodes them).
        raw_samples, num_restarts: As in :func:`optimize_acqf`; None for the method's own
            (BoTorch's defaults are 1024 and 20).
        inequality_constraints, equality_constraints: As in :func:`optimize_acqf`, on
            continuous columns only.
        options, q, post_processing_func, fixed_features, return_acq_values: As in
            :func:`optimize_acqf`.
        sequential: With ``q > 1``, choose the candidates one at a time (BoTorch's default
            here); False chooses them jointly.
        method, budget, generator, timeout_sec, **method_options: As in :func:`optimize_acqf`.

    Returns:
        ``(candidates, acq_value)``: ``q x d`` and a 0-dim tensor (``q`` values when
        sequential with ``q > 1``).

    Raises:
        ValueError: For allowed values outside the bounds, unsorted or repeated; a column in
            both ``discrete_dims`` and ``cat_dims`` or in ``fixed_features``; a column with one
            value; and every argument :func:`optimize_acqf` checks.
    """
    return _optimize(OptimizeAcqfInputs(
        acq_function=acq_function, bounds=bounds, q=q, num_restarts=num_restarts,
        raw_samples=raw_samples, options=options, inequality_constraints=inequality_constraints,
        equality_constraints=equality_constraints, fixed_features=fixed_features,
        post_processing_func=post_processing_func, sequential=sequential,
        discrete_dims=_mapping(discrete_dims),
        cat_dims=_mapping(cat_dims), method=method, budget=budget,
        generator=generator, timeout_sec=timeout_sec, return_acq_values=return_acq_values,
        method_options=method_options,
    ))


def _mapping(dims) -> Mapping | Sequence | None:
    """An empty mapping or list is None (a continuous space)."""
    if dims is None or (isinstance(dims, (Mapping, list, tuple)) and len(dims) == 0):
        return None
    return dims


def optimize_acqf_mixed(
    acq_function: torch.nn.Module,
    bounds: Tensor,
    q: int,
    num_restarts: int | None,
    fixed_features_list: list[Mapping[int, float]],
    raw_samples: int | None = None,
    options: Mapping[str, object] | None = None,
    inequality_constraints: list | None = None,
    equality_constraints: list | None = None,
    nonlinear_inequality_constraints: list | None = None,
    post_processing_func: Callable[[Tensor], Tensor] | None = None,
    batch_initial_conditions: Tensor | None = None,
    return_best_only: bool = True,
    gen_candidates: object = None,
    ic_generator: object = None,
    timeout_sec: float | None = None,
    retry_on_optimization_warning: bool = True,
    ic_gen_kwargs: Mapping | None = None,
    return_acq_values: bool = True,
    *,
    method: str = "lbfgs",
    budget: int | None = None,
    generator: GeneratorLike = None,
    **method_options: object,
) -> tuple[Tensor, Tensor | None]:
    """The best over a list of fixed-feature combinations; a drop-in for BoTorch's
    ``optimize_acqf_mixed``.

    Each combination in ``fixed_features_list`` is one :func:`optimize_acqf` over the other
    columns (``budget`` split evenly among them); the best answer wins. With ``q > 1`` the
    candidates are chosen one at a time, each over every combination with the earlier ones
    pending (BoTorch's sequential greedy rule).

    Args:
        fixed_features_list: A non-empty list of ``{column: value}`` mappings.
        ic_gen_kwargs: BoTorch's initial-condition hook's arguments; only None or ``{}``.
        Others: As in :func:`optimize_acqf`.

    Returns:
        ``(candidates, acq_value)``: ``q x d`` and a 0-dim tensor (``q`` values for
        ``q > 1``); ``num_restarts x 1 x d`` and ``num_restarts`` with
        ``return_best_only=False`` (``q = 1`` only): the best rows of all combinations.
    """
    _refuse_hooks(gen_candidates, ic_generator, retry_on_optimization_warning)
    if ic_gen_kwargs:
        raise ValueError("ic_gen_kwargs: BoTorch's initial-condition hook does not apply to "
                         "acqopt; pass None")
    if not isinstance(fixed_features_list, (list, tuple)) or not fixed_features_list:
        raise ValueError("fixed_features_list: expected a non-empty list of {column: value} "
                         "mappings")
    if return_best_only is False and q != 1:
        raise ValueError("return_best_only: False is supported for q=1 only (as in BoTorch)")
    if isinstance(q, bool) or not isinstance(q, int) or q < 1:
        raise ValueError(f"q: expected an int >= 1, got {q!r}")
    inputs = OptimizeAcqfInputs(
        acq_function=acq_function, bounds=bounds, q=1, num_restarts=num_restarts,
        raw_samples=raw_samples, options=options, inequality_constraints=inequality_constraints,
        equality_constraints=equality_constraints,
        nonlinear_inequality_constraints=nonlinear_inequality_constraints,
        fixed_features=fixed_features_list[0],
        post_processing_func=post_processing_func,
        batch_initial_conditions=batch_initial_conditions, return_best_only=return_best_only,
        method=method, budget=budget, generator=generator, timeout_sec=timeout_sec,
        method_options=method_options,
    )
    optimizer, gen, total = inputs.configure()
    gen = as_generator(gen)  # one stream for every combination and step
    k = len(fixed_features_list)
    if total is not None and total < q * k:
        raise ValueError(f"budget: {k} fixed-feature combinations x q={q} need at least "
                         f"{q * k} queries, got {total}")
    share = None if total is None else total // (q * k)
    each = dataclasses.replace(inputs, budget=share, generator=gen,
                               timeout_sec=None if timeout_sec is None else timeout_sec / (q * k))
    if q == 1:
        X, values = _best_of_combinations(each, fixed_features_list)
        return X, (values if return_acq_values else None)
    if not hasattr(acq_function, "set_X_pending") or is_analytic(acq_function):
        raise ValueError(f"q: {type(acq_function).__name__} cannot condition on pending points; "
                         "use a Monte-Carlo acquisition (e.g. qLogExpectedImprovement) for q > 1")
    base = getattr(acq_function, "X_pending", None)
    chosen, values = [], []
    try:
        for _ in range(q):
            X, value = _best_of_combinations(each, fixed_features_list)
            chosen.append(X)
            values.append(value)
            pending = torch.cat(chosen)
            acq_function.set_X_pending(pending if base is None else torch.cat([base, pending]))
    finally:
        acq_function.set_X_pending(base)
    return torch.cat(chosen), (torch.stack(values) if return_acq_values else None)


def _best_of_combinations(inputs: OptimizeAcqfInputs, fixed_features_list):
    """One :func:`_optimize` per fixed-feature combination; the best answer (with
    ``return_best_only=False``, every combination's rows, best first). With nonlinear
    constraints a feasible answer beats an infeasible one, and a combination's
    ``InfeasibleCandidateWarning`` is raised only if its answer is the one returned."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InfeasibleCandidateWarning)
        answers = [_optimize(dataclasses.replace(inputs, fixed_features=ff))
                   for ff in fixed_features_list]
    feasible = [True] * len(answers)
    if inputs.nonlinear_inequality_constraints:
        check = NonlinearConstraints(inputs.nonlinear_inequality_constraints, inputs.bounds)
        lower, scale = inputs.bounds[0], inputs.bounds[1] - inputs.bounds[0]
        feasible = [float(check.violation((X - lower) / scale).max()) <= FEASIBILITY_TOL
                    for X, _ in answers]
    if not inputs.return_best_only:
        X = torch.cat([a[0] for a in answers])
        values = torch.cat([a[1] for a in answers])
        order = values.argsort(descending=True)[: inputs.num_restarts or 10]
        answer, infeasible_answer = (X[order], values[order]), not all(feasible)
    else:
        best = max(range(len(answers)), key=lambda i: (feasible[i], float(answers[i][1])))
        answer, infeasible_answer = answers[best], not feasible[best]
    for record in caught:
        if infeasible_answer or not issubclass(record.category, InfeasibleCandidateWarning):
            warnings.warn_explicit(record.message, record.category, record.filename,
                                   record.lineno)
    return answer


def optimize_acqf_discrete(
    acq_function: torch.nn.Module,
    q: int,
    choices: Tensor,
    max_batch_size: int = 2048,
    unique: bool = True,
    return_acq_values: bool = True,
    X_avoid: Tensor | None = None,
    inequality_constraints: list | None = None,
    *,
    budget: int | None = None,
    generator: GeneratorLike = None,
) -> tuple[Tensor, Tensor | None]:
    """The best of a finite set of points; a drop-in for BoTorch's ``optimize_acqf_discrete``.

    Every choice is valued (in batches of ``max_batch_size``, through acqopt's query counter);
    with ``q > 1`` the candidates are chosen one at a time, each with the earlier ones pending,
    and with ``unique`` no choice twice. With a ``budget`` smaller than the choices need, each
    step values a uniform random subset of ``budget // q`` choices (drawn from ``generator``):
    a random search over the choices.

    Args:
        acq_function: A BoTorch acquisition function (not one-shot).
        q: The number of candidates.
        choices: ``n x d`` points.
        max_batch_size: Choices valued per call.
        unique: With ``q > 1``, never return a choice twice.
        return_acq_values: False returns ``(candidates, None)``.
        X_avoid: ``m x d`` points to leave out of ``choices`` (with ``unique``).
        inequality_constraints: Choices that violate them (by more than 1e-6) are left out.
        budget: The most acquisition queries; None values every choice.
        generator: Seeds the subset under a budget (int, CPU ``torch.Generator`` or None).

    Returns:
        ``(candidates, acq_value)``: ``q x d`` and ``q`` values (BoTorch's shapes).
    """
    if is_one_shot(acq_function):
        raise ValueError("acq_function: one-shot acquisitions cannot be optimised over "
                         "discrete choices")
    if isinstance(q, bool) or not isinstance(q, int) or q < 1:
        raise ValueError(f"q: expected an int >= 1, got {q!r}")
    if not isinstance(choices, Tensor) or choices.dim() != 2 or choices.shape[0] == 0:
        shape = tuple(choices.shape) if isinstance(choices, Tensor) else type(choices).__name__
        raise ValueError(f"choices: expected a non-empty n x d tensor, got {shape}")
    positive_int("max_batch_size", max_batch_size)
    for name, value in (("unique", unique), ("return_acq_values", return_acq_values)):
        if not isinstance(value, bool):
            raise ValueError(f"{name}: expected a bool, got {value!r}")
    if budget is not None:
        positive_int("budget", budget)
    if q > 1 and (not hasattr(acq_function, "set_X_pending") or is_analytic(acq_function)):
        raise ValueError(f"q: {type(acq_function).__name__} cannot condition on pending points; "
                         "use a Monte-Carlo acquisition (e.g. qLogExpectedImprovement) for q > 1")
    if X_avoid is not None and unique:
        if not isinstance(X_avoid, Tensor) or X_avoid.dim() != 2 or \
                X_avoid.shape[-1] != choices.shape[-1]:
            raise ValueError(f"X_avoid: expected an m x {choices.shape[-1]} tensor")
        avoid = (choices.unsqueeze(1) == X_avoid.to(choices).unsqueeze(0)).all(-1).any(-1)
        choices = choices[~avoid]
    if inequality_constraints:
        rows = parse_constraints(inequality_constraints, "inequality_constraints",
                                 choices.shape[-1], choices)
        feasible = torch.ones(choices.shape[0], dtype=torch.bool, device=choices.device)
        for a, b in rows:
            feasible &= choices @ a >= b - 1e-6
        choices = choices[feasible]
    if choices.shape[0] == 0:
        raise ValueError("choices: no choice remains after removing X_avoid and the choices "
                         "that violate inequality_constraints")
    if unique and choices.shape[0] < q:
        raise ValueError(f"q: {q} unique candidates requested from {choices.shape[0]} choices")
    gen = as_generator(generator) if budget is not None else None
    per_step = None if budget is None else budget // q
    if per_step is not None and per_step < 1:
        raise ValueError(f"budget: q={q} candidates need at least {q} queries, got {budget}")
    counter = CountingAcquisition(acq_function, budget=budget)
    base = getattr(acq_function, "X_pending", None) if q > 1 else None
    available = torch.ones(choices.shape[0], dtype=torch.bool, device=choices.device)
    chosen, values = [], []
    try:
        for _ in range(q):
            idx = available.nonzero().flatten()
            if per_step is not None and idx.numel() > per_step:
                pick = torch.randperm(idx.numel(), generator=gen)[:per_step].sort().values
                idx = idx[pick.to(idx.device)]
            with torch.no_grad():
                v = torch.cat([counter(choices[idx[i:i + max_batch_size]].unsqueeze(-2))
                               for i in range(0, idx.numel(), max_batch_size)])
            v = torch.where(torch.isfinite(v), v, float("-inf"))
            if not bool(torch.isfinite(v).any()):
                raise RuntimeError("optimize_acqf_discrete: the acquisition is NaN or infinite "
                                   "at every choice valued")
            best = idx[int(v.argmax())]
            chosen.append(choices[best])
            values.append(v.max())
            if unique:
                available[best] = False
            if q > 1:
                pending = torch.stack(chosen)
                acq_function.set_X_pending(pending if base is None else torch.cat([base, pending]))
    finally:
        if q > 1:
            acq_function.set_X_pending(base)
    return torch.stack(chosen), (torch.stack(values) if return_acq_values else None)


def _optimize(inputs: OptimizeAcqfInputs) -> tuple[Tensor, Tensor | None]:
    """Runs validated inputs: sequentially, one step per candidate, or jointly."""
    optimizer, generator, budget = inputs.configure()
    inputs = dataclasses.replace(inputs, budget=budget, generator=generator)
    if inputs.steps > 1:
        X, values = _sequential(optimizer, inputs)
    else:
        k = (inputs.num_restarts or 10) if not inputs.return_best_only else 0
        result = optimize_with_fixed_features(optimizer, inputs, num_best=k)
        X, values = _answer(result, inputs.acq_function, inputs.return_best_only,
                            inputs.return_full_tree)
        X, values = _post_process(inputs.post_processing_func, inputs.acq_function, X, values)
    return X, (values if inputs.return_acq_values else None)


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


def _sequential(optimizer: BaseOptimizer, inputs: OptimizeAcqfInputs):
    """BoTorch's greedy sequential selection: candidate i with candidates < i pending."""
    q, sequence = inputs.q, inputs.acq_function_sequence
    if sequence is not None and (not isinstance(sequence, (list, tuple)) or len(sequence) != q):
        raise ValueError(f"acq_function_sequence: expected a list of q={q} acquisitions")
    if not inputs.return_best_only:
        raise ValueError("return_best_only: False is not supported with sequential=True "
                         "(as in BoTorch)")
    acqs = list(sequence) if sequence is not None else [inputs.acq_function] * q
    for acq in acqs:
        if not hasattr(acq, "set_X_pending") or is_analytic(acq):
            raise ValueError(
                f"sequential: {type(acq).__name__} cannot condition on pending points; use a "
                "Monte-Carlo acquisition (e.g. qLogExpectedImprovement)"
            )
    budget, initial = inputs.budget, inputs.batch_initial_conditions
    if budget is not None and budget < q:
        raise ValueError(f"budget: sequential selection of q={q} needs at least q queries")
    if initial is not None:
        check_initial_conditions(initial, inputs.bounds, q)
    step = dataclasses.replace(  # one generator stream for all steps
        inputs, q=1, sequential=False, acq_function_sequence=None,
        generator=as_generator(inputs.generator), budget=None if budget is None else budget // q)
    chosen: list[Tensor] = []
    values: list[Tensor] = []
    base = [getattr(acq, "X_pending", None) for acq in acqs]
    # One acquisition for every step: a closed form of qLogEI whose joint path (pending
    # points) passed a step's check answers the later steps (counting.sequential_session).
    session = sequential_session(acqs[0]) if sequence is None else contextlib.nullcontext()
    try:
        with session:
            for i, acq in enumerate(acqs):
                if chosen:
                    pending = torch.cat(chosen)
                    acq.set_X_pending(pending if base[i] is None
                                      else torch.cat([base[i], pending]))
                warm = None if initial is None else initial[:, i:i + 1]
                result = optimize_with_fixed_features(
                    optimizer, dataclasses.replace(step, acq_function=acq,
                                                   batch_initial_conditions=warm))
                X, value = _post_process(inputs.post_processing_func, acq, result.candidates,
                                         result.acq_value)
                chosen.append(X)
                values.append(value)
    finally:
        for acq, pending in zip(acqs, base):
            acq.set_X_pending(pending)
    return torch.cat(chosen), torch.stack(values)


def is_one_shot(acq_function) -> bool:
    from botorch.acquisition.acquisition import OneShotAcquisitionFunction

    return isinstance(acq_function, OneShotAcquisitionFunction)


def optimize_with_fixed_features(optimizer: BaseOptimizer, inputs: OptimizeAcqfInputs,
                                 num_best: int = 0) -> OptimizeResult:
    """Runs ``optimizer`` on ``inputs`` over the free columns only, holding
    ``inputs.fixed_features`` fixed.

    One-shot acquisitions run on their augmented ``q``. The candidates of the returned result
    (and ``info["best_points"]``) have all ``d`` columns.
    """
    acq_function, bounds, q = inputs.acq_function, inputs.bounds, inputs.q
    if is_one_shot(acq_function):
        check_q(q, acq_function)
        q = acq_function.get_augmented_q_batch_size(q)
    fixed = normalize_fixed_features(inputs.fixed_features, bounds)
    run = dict(q=q, budget=inputs.budget, generator=inputs.generator,
               timeout_sec=inputs.timeout_sec, num_best=num_best)
    nonlinear = inputs.nonlinear_inequality_constraints
    if not fixed:
        return optimizer.optimize(acq_function, bounds,
                                  inequality_constraints=inputs.inequality_constraints,
                                  equality_constraints=inputs.equality_constraints,
                                  nonlinear_inequality_constraints=nonlinear,
                                  batch_initial_conditions=inputs.batch_initial_conditions,
                                  discrete_dims=inputs.discrete_dims, cat_dims=inputs.cat_dims,
                                  **run)
    from botorch.acquisition.fixed_feature import FixedFeatureAcquisitionFunction

    d = bounds.shape[-1]
    columns = sorted(fixed)
    values = [fixed[c] for c in columns]
    free = [c for c in range(d) if c not in fixed]
    position = {c: i for i, c in enumerate(free)}
    wrapped = FixedFeatureAcquisitionFunction(acq_function, d=d, columns=columns, values=values)
    initial = inputs.batch_initial_conditions
    if initial is not None:
        initial = check_initial_conditions(initial, bounds, q)
        initial = (bounds[0] + initial * (bounds[1] - bounds[0]))[..., free]
    discrete, categorical = normalize_grid(inputs.discrete_dims, inputs.cat_dims, bounds, fixed)
    result = optimizer.optimize(
        wrapped, bounds[:, free], batch_initial_conditions=initial,
        inequality_constraints=_reduce(inputs.inequality_constraints, fixed, free,
                                       "inequality_constraints"),
        equality_constraints=_reduce(inputs.equality_constraints, fixed, free,
                                     "equality_constraints"),
        discrete_dims={position[c]: v for c, v in discrete.items()} or None,
        cat_dims={position[c]: v for c, v in categorical.items()} or None,
        nonlinear_inequality_constraints=_on_free_columns(nonlinear, fixed, free, bounds),
        **run,
    )

    def full(X: Tensor) -> Tensor:
        out = X.new_empty(*X.shape[:-1], d)
        out[..., free] = X
        for c in columns:
            out[..., c] = fixed[c]
        return out

    widened = {key: full(result.info[key]) for key in ("best_points", "local_optima")
               if key in result.info}
    info = dataclasses.replace(result.info, **widened) if dataclasses.is_dataclass(result.info) \
        else {**result.info, **widened}  # an optimizer of one's own may report a dict
    return dataclasses.replace(result, candidates=full(result.candidates), info=info)


def _on_free_columns(constraints, fixed: dict[int, float], free: list[int], bounds: Tensor):
    """Nonlinear constraints on all columns -> on the free ones (the fixed values put back,
    in a form ``torch.func.vmap`` and autograd go through)."""
    if not constraints:
        return constraints
    funcs = check_nonlinear(constraints)
    columns = sorted(fixed)
    values = torch.tensor([fixed[c] for c in columns], dtype=bounds.dtype, device=bounds.device)
    order = torch.tensor(free + columns, device=bounds.device).argsort()

    def on_free(func):
        return lambda x: func(torch.cat([x, values.expand(*x.shape[:-1], -1)], -1)[..., order])

    return [(on_free(f), True) for f in funcs]


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
