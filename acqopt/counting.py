"""The query counter every method evaluates the acquisition function through.

One *acquisition query* is the acquisition value, with or without its gradient, at one
candidate: one ``q x d`` element of a ``b x q x d`` batch. The counter refuses any call that
would take the total past the budget, so no method can overspend by even one query.
"""

from __future__ import annotations

import contextlib
import math
import time
from copy import deepcopy
from dataclasses import dataclass

import gpytorch
import torch
from botorch.acquisition import AcquisitionFunction
from torch import Tensor

from acqopt.closed_form import (ClosedFormQLogEI, agrees, closed_form_acquisition, covered,
                                on_training_subset)
from acqopt.constraints import FEASIBILITY_TOL


class BudgetExhausted(RuntimeError):
    """Raised when a call would take the number of queries past the budget.

    Attributes:
        counter: The :class:`CountingAcquisition` whose budget it is, so that a budget of an
            acquisition nested inside is not mistaken for this one's.
    """

    def __init__(self, message: str, counter: CountingAcquisition | None = None) -> None:
        super().__init__(message)
        self.counter = counter


class TimeLimitReached(RuntimeError):
    """Raised when a call starts after the time limit has passed."""


STALL_FTOL = 1e-9


class Stalled(RuntimeError):
    """Raised after an evaluation when the best value has stopped improving (see ``Problem``)."""


@dataclass(frozen=True)
class Counts:
    """How much of the acquisition function a run used.

    Attributes:
        queries: Candidates evaluated (each ``q x d`` element of a batch counts once).
        grad_queries: Those of ``queries`` that were evaluated with their gradient.
        calls: Calls of the acquisition function (one per batch).
    """

    queries: int = 0
    grad_queries: int = 0
    calls: int = 0


class CountingAcquisition(AcquisitionFunction):
    """Wraps an acquisition function and counts (and caps) every query it answers.

    It is itself an ``AcquisitionFunction``, so ``botorch.optim.optimize_acqf`` can be run
    through it and measured by the same rule as acqopt's methods.

    With ``fast=True`` the first call is answered by BoTorch (of a batch of more than
    ``CHECK_ROWS`` without gradients, its first ``CHECK_ROWS`` rows); then, if
    :mod:`acqopt.closed_form` covers the acquisition, a closed-form copy is made (after that
    call, so that it shares the base samples an MC acquisition draws on its first call, and any
    pending points) and answers the same points at no extra query; if every value agrees to
    1e-9 relative, the rest of the batch and later calls go to the closed form, otherwise they
    stay with BoTorch. A model with more than ``SUBSET_ABOVE`` training points and no prediction
    caches yet is checked on a copy conditioned on its first ``CHECK_TRAIN`` points instead
    (:meth:`_check_on_subset`). ``evaluator`` says which one answers ("botorch (checking)"
    until the first call).

    Args:
        acq_function: The acquisition function to wrap; called on ``b x q x d`` tensors.
        budget: The most queries it will answer; None for no cap.
        timeout_sec: Refuse calls that start more than this many seconds after creation.
        fast: Try the closed-form evaluator.
    """

    def __init__(
        self,
        acq_function: torch.nn.Module,
        budget: int | None = None,
        timeout_sec: float | None = None,
        fast: bool = False,
    ) -> None:
        super().__init__(model=getattr(acq_function, "model", None))
        self.acq_function = acq_function
        self._checking = fast and covered(acq_function)
        self.evaluator = "botorch (checking)" if self._checking else "botorch"
        # Above gpytorch.settings.max_cholesky_size training points BoTorch's answer is an
        # iterative approximation; then the closed form is checked against BoTorch's exact
        # answer, and this is the largest relative error of the approximate one at the check.
        self.approximation_error: float | None = None
        self._session = _SESSIONS.get(id(acq_function)) if self._checking else None
        checked = None if self._session is None else self._session.checked
        if checked is not None:  # a later step of a sequential selection: no new check
            checked.set_X_pending(acq_function.X_pending)
            self.acq_function, self.evaluator, self._checking = checked, "closed-form", False
            self.approximation_error = self._session.approximation_error
        self.budget = budget
        self.queries = 0
        self.grad_queries = 0
        self.calls = 0
        # Seconds spent evaluating the acquisition (forward passes and, through _Clock marks,
        # the backward passes of its autograd graph): what a method's wall time is not.
        self.seconds = 0.0
        self._backward_started = 0.0
        self._deadline = None if timeout_sec is None else time.monotonic() + timeout_sec

    @property
    def remaining(self) -> int | None:
        """Queries left before the budget is spent; None when there is no budget."""
        return None if self.budget is None else self.budget - self.queries

    @property
    def counts(self) -> Counts:
        return Counts(self.queries, self.grad_queries, self.calls)

    def forward(self, X: Tensor) -> Tensor:
        """Evaluates ``X`` (``b x q x d`` or ``q x d``) after counting it against the budget."""
        n = self._admit(X)
        if self._checking:
            self._check_on_subset(X)
        wants_grad = torch.is_grad_enabled() and X.requires_grad
        rows = self._rows_per_chunk(X)
        start = time.perf_counter()
        if wants_grad:  # marks that time the backward pass through the acquisition too
            values = self.acq_function(_Clock.apply(X, self, False))
            if isinstance(values, Tensor) and values.requires_grad:
                values = _Clock.apply(values, self, True)
        elif self._checking and X.dim() == 3 and X.shape[0] > CHECK_ROWS:
            # A first large batch (raw samples): BoTorch answers its first rows, the check
            # runs on them, and the evaluator it chose answers the rest.
            head = self.acq_function(X[:CHECK_ROWS])
            self._check_output(X[:CHECK_ROWS], head, False)
            self._check_candidate(X[:CHECK_ROWS], head)
            values = torch.cat([head, self._evaluate(X[CHECK_ROWS:], rows)])
        else:
            values = self._evaluate(X, rows)  # an exception propagates, nothing is counted
        self.seconds += time.perf_counter() - start
        self._check_output(X, values, wants_grad)
        self._count(n, wants_grad)
        if self._checking:
            self._check_candidate(X, values)
        return values

    def _evaluate(self, X: Tensor, rows: int) -> Tensor:
        """Values without gradients; a large batch in chunks of ``rows``."""
        if X.dim() != 3 or X.shape[0] <= rows:
            return self.acq_function(X)
        return torch.cat([self.acq_function(chunk) for chunk in X.split(rows)])

    def value_and_grad(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """Values of ``X`` (``b x q x d``; shape ``b``) and their gradients with respect to
        ``X``, counted as queries with gradient: from the evaluator's own ``value_and_grad``
        when it has one (the closed form's, without autograd), else by autograd."""
        direct = getattr(self.acq_function, "value_and_grad", None)
        if direct is None or self._checking or X.dim() != 3:
            X = X.detach().requires_grad_(True)
            with torch.enable_grad():
                values = self(X)
                (grad,) = torch.autograd.grad(values.sum(), X)
            return values.detach(), grad
        n = self._admit(X)
        start = time.perf_counter()
        values, grad = direct(X)
        self.seconds += time.perf_counter() - start
        self._check_output(X, values, False)
        self._count(n, True)
        return values, grad

    def _rows_per_chunk(self, X: Tensor) -> int:
        """Batch rows evaluated together so that the largest temporary, GPyTorch's ``b x n x
        q x d`` distances on BoTorch's path, stays under ``memory_bound(X.device)`` bytes."""
        n = _training_points(self.acq_function)
        row = X.element_size() * max(n, 1) * X.shape[-2] * (X.shape[-1] + 4)
        return max(1, memory_bound(X.device) // row)

    def _admit(self, X: Tensor) -> int:
        """The queries in ``X``, after checking that the budget and the time limit allow them."""
        n = X.shape[:-2].numel() if X.dim() > 2 else 1
        if self.budget is not None and self.queries + n > self.budget:
            raise BudgetExhausted(
                f"a call of {n} queries would exceed the budget ({self.queries} of "
                f"{self.budget} used)", counter=self,
            )
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise TimeLimitReached("the time limit was reached")
        return n

    def _count(self, n: int, with_grad: bool) -> None:
        self.queries += n
        self.calls += 1
        if with_grad:
            self.grad_queries += n

    def _check_output(self, X: Tensor, values: object, wants_grad: bool) -> None:
        """Raises ``ValueError`` unless the acquisition answered one floating value per
        ``q x d`` element of ``X`` (with a gradient when one was asked for)."""
        name = type(self.acq_function).__name__
        expected = tuple(X.shape[:-2])
        if not isinstance(values, Tensor) or not values.is_floating_point():
            raise ValueError(
                f"acq_function: {name} returned {type(values).__name__}"
                + (f" of dtype {values.dtype}" if isinstance(values, Tensor) else "")
                + f"; expected a floating tensor of shape {expected} (one value per q x d "
                "candidate set)"
            )
        if tuple(values.shape) != expected and not (X.dim() == 2 and values.numel() == 1):
            raise ValueError(
                f"acq_function: {name} returned shape {tuple(values.shape)} for input of shape "
                f"{tuple(X.shape)}; expected {expected} (one value per q x d candidate set)"
            )
        if wants_grad and not values.requires_grad:
            raise ValueError(
                f"acq_function: {name} returned values without a gradient with respect to X; "
                "gradient-based methods need one (use a zero-order method: cma, snes, es-grad, "
                "vo)"
            )

    def _check_on_subset(self, X: Tensor) -> None:
        """The check before a first call, on a model with more than ``SUBSET_ABOVE`` training
        points and no prediction caches yet: BoTorch's answer on the model itself would first
        build GPyTorch's caches (``O(n^3)``: 2.0 of BoTorch's 4.4 s at n = 3000), so the closed
        form's reading of the model (its kernel, hyperparameters, transforms, acquisition) is
        checked on a copy conditioned on the first ``CHECK_TRAIN`` training points, at the
        first ``CHECK_ROWS`` points of ``X``; the closed form of the model itself then answers
        every call, the first included. Where no such copy is made
        (:func:`acqopt.closed_form.on_training_subset`), or the closed form is not ready before
        a first call (an MC acquisition whose sampler BoTorch draws on it), nothing happens and
        the check runs on the model after that call."""
        if _training_points(self.acq_function) <= SUBSET_ABOVE:
            return
        small = on_training_subset(self.acq_function, CHECK_TRAIN)
        fast = None if small is None else closed_form_acquisition(small)
        if fast is None:
            return
        points = X.detach()[:CHECK_ROWS] if X.dim() == 3 else X.detach()
        with torch.no_grad():
            agreed = agrees(small(points), fast(points))
        # the whole model's closed form (its O(n^3) factorisation) only once the copy agreed
        candidate = closed_form_acquisition(self.acq_function) if agreed else None
        if agreed and candidate is None:
            return
        self._checking = False
        if agreed:
            self._use(candidate, X)
        else:
            self.evaluator = "botorch (the closed form disagreed)"

    def _check_candidate(self, X: Tensor, reference: Tensor) -> None:
        self._checking = False
        candidate = closed_form_acquisition(self.acq_function)
        if candidate is None:
            self.evaluator = "botorch"
            return
        with torch.no_grad():
            values = candidate(X.detach())
        if agrees(reference.detach(), values):
            self._use(candidate, X)
            return
        exact = _exact_reference(self.acq_function, X.detach())
        if exact is not None and agrees(exact, values):
            # BoTorch answered by its iterative approximation (more training points than
            # gpytorch.settings.max_cholesky_size); its exact answer is the closed form's
            self.approximation_error = float(
                ((reference.detach() - exact).abs() / exact.abs().clamp_min(1e-300)).max())
            self._use(candidate, X)
        else:
            self.evaluator = "botorch (the closed form disagreed)"

    def _use(self, candidate: torch.nn.Module, X: Tensor) -> None:
        """The closed form passed its check at ``X``: it answers from now on; in a sequential
        selection's session, the later steps' counters too, once a check has run its joint
        path (a q-batch or pending points: a first step of single points without pending ones
        checks only its marginal path)."""
        self.acq_function, self.evaluator = candidate, "closed-form"
        joint = isinstance(candidate, ClosedFormQLogEI) and (
            X.shape[-2] > 1 or candidate.acquisition.X_pending is not None)
        if self._session is not None and joint:
            self._session.checked = candidate
            self._session.approximation_error = self.approximation_error

    def set_X_pending(self, X_pending: Tensor | None = None) -> None:
        self.acq_function.set_X_pending(X_pending)

    @property
    def X_pending(self) -> Tensor | None:
        """The wrapped acquisition's pending points (BoTorch's sequential selection reads
        them)."""
        return getattr(self.acq_function, "X_pending", None)


@dataclass
class _Session:
    checked: torch.nn.Module | None = None  # the closed form that passed a joint check
    approximation_error: float | None = None  # of BoTorch's answer at that check


# The sequential selections in progress, by id of their acquisition (sequential_session).
_SESSIONS: dict[int, _Session] = {}


@contextlib.contextmanager
def sequential_session(acq_function: torch.nn.Module):
    """For one greedy sequential selection on ``acq_function``, between whose steps nothing
    but its pending points changes (``acqopt.api``'s; the model and the acquisition must not
    change inside it): a closed form of qLogEI (:class:`acqopt.closed_form.ClosedFormQLogEI`)
    that passed a counter's check of its joint path (q-batch or pending points: the second
    step's, after a first step of single points) answers every later counter on
    ``acq_function`` without a new check, with ``acq_function``'s pending points. A step's
    check costs BoTorch's answer at its first rows (about 10 ms at n = 300), and past
    ``SUBSET_ABOVE`` training points the closed form's whole factorisation again; a later
    step's pending points are more inputs of the path already checked, as every later point
    of one maximisation is."""
    key = id(acq_function)
    if key in _SESSIONS:  # nested: the outer session holds
        yield
        return
    _SESSIONS[key] = _Session()
    try:
        yield
    finally:
        del _SESSIONS[key]


# Rows of a first large batch that BoTorch answers for the closed form's check (the rest go to
# the evaluator the check chose): evaluating all 512 raw samples through GPyTorch took 0.1 s of
# a 0.24 s maximisation at n = 300, d = 20.
CHECK_ROWS = 32

# Training points of the copy the closed form is checked on when the model has more than
# SUBSET_ABOVE and no prediction caches yet (CountingAcquisition._check_on_subset). GPyTorch's
# first call costs about 5 ms at n = 128, 8 ms at 300, 0.1 s at 1000 and 2.0 s at 3000; the
# check on the copy about 10 ms (its copies, GPyTorch's call, two closed forms). A maximisation
# at n = 700 took 0.08-0.10 s instead of 0.11-0.14 s, at n = 300 and 500 about the same either
# way; but a sequential step after the first finds GPyTorch's caches built by the first step's
# check on the model itself (and their factor), and a sequential q = 8 at n = 300 took 5-15%
# longer with a check on a copy at every step.
CHECK_TRAIN = 128
SUBSET_ABOVE = 512

# Bytes the temporaries of one raw-sample evaluation may take (CountingAcquisition chunks the
# batch under it): 1 GiB on the CPU, a quarter of the free memory on a GPU.
CPU_MEMORY_BOUND = 1 << 30


class _Clock(torch.autograd.Function):
    """An identity that times the backward pass between two marks: the output's mark runs
    first in the backward pass, the input's last; the time between goes to
    ``counter.seconds``."""

    @staticmethod
    def forward(ctx, x: Tensor, counter: CountingAcquisition, output: bool) -> Tensor:
        ctx.counter, ctx.output = counter, output
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        now = time.perf_counter()
        if ctx.output:
            ctx.counter._backward_started = now
        else:
            ctx.counter.seconds += now - ctx.counter._backward_started
        return grad, None, None


def _training_points(acq_function: torch.nn.Module) -> int:
    """The number of training points of the acquisition's model; 0 when it has none that can
    be read (no model, or a ModelListGP's tuples)."""
    inputs = getattr(getattr(acq_function, "model", None), "train_inputs", None)
    try:
        return int(inputs[0].shape[-2])
    except (TypeError, IndexError, AttributeError):
        return 0


def memory_bound(device: torch.device) -> int:
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free // 4
    return CPU_MEMORY_BOUND


def _exact_reference(acq_function: torch.nn.Module, X: Tensor) -> Tensor | None:
    """BoTorch's own answer at ``X`` computed exactly (Cholesky, no iterative solves) on a copy,
    when its model has more training points than GPyTorch factors exactly; else None."""
    model = getattr(acq_function, "model", None)
    inputs = getattr(model, "train_inputs", None)
    if not inputs or inputs[0].shape[-2] <= gpytorch.settings.max_cholesky_size.value():
        return None
    copy = deepcopy(acq_function)
    copy.model.train()  # drops the prediction caches built by the approximate path
    copy.model.eval()
    with torch.no_grad(), gpytorch.settings.max_cholesky_size(inputs[0].shape[-2] + 1), \
            gpytorch.settings.fast_computations(False, False, False):
        return copy(X).detach()


class Problem:
    """An acquisition maximisation in the unit cube, evaluated only through a counter.

    Methods see candidates ``U`` in ``[0, 1]^{q x d}``; the problem maps them onto ``bounds``,
    evaluates them through the :class:`CountingAcquisition`, replaces NaN and inf by ``-inf``
    and keeps the best candidate ever evaluated, with a trace of it against queries used.

    With a ``polytope`` (linear constraints), every candidate is projected onto it before it is
    evaluated, and the projected point is what is recorded: every evaluated and every returned
    point is feasible, for every method. With a ``grid`` (:class:`acqopt.domain.Grid`), every
    candidate's grid columns are then rounded to their nearest allowed values in the same way,
    and gradients along grid columns are zero. With ``nonlinear`` constraints
    (:class:`acqopt.constraints.NonlinearConstraints`), every candidate is then restored onto
    them; gradients are projected onto the tangent space of the constraints a restored point
    sits on, and a candidate the restoration leaves infeasible gets the value ``-inf`` (the
    least-violating one is kept in ``least_violation``/``least_violating_u``/
    ``least_violating_value``).

    Args:
        counter: The counting wrapper around the user's acquisition function.
        bounds: A ``2 x d`` tensor of lower and upper bounds; sets device and dtype.
        q: The number of candidates in one query.
        polytope: Linear constraints (:class:`acqopt.constraints.Polytope`), or None.
        grid: Integer/discrete and categorical columns (:class:`acqopt.domain.Grid`), or None.
        nonlinear: Nonlinear inequality constraints, or None.
        initial: Warm starts, ``b x q x d`` in the unit cube (BoTorch's
            ``batch_initial_conditions``), or None; see :func:`acqopt.design.initial_points`.
        patience: The stall stop, in queries, or None for none. After an evaluation that leaves
            the best value no higher than ``STALL_FTOL`` (relative) above its value
            ``max(patience, k)`` queries ago, where ``k`` is the query count when the best last
            improved, :class:`Stalled` ends the run: a run stops at most at twice the work of
            its last improvement, plus ``patience``.

    Attributes:
        observers: Callables ``f(U, values)`` called after every evaluation with the evaluated
            unit-cube candidates (``b x q x d``) and their cleaned values (``b``); add one for
            a block with :meth:`observing`.
        info: What the method reports as data (copied to ``OptimizeResult.info``).
    """

    def __init__(self, counter: CountingAcquisition, bounds: Tensor, q: int,
                 polytope=None, initial: Tensor | None = None,
                 patience: int | None = None, grid=None, nonlinear=None) -> None:
        self.counter = counter
        self.bounds = bounds
        self.q = q
        self.d = bounds.shape[-1]
        self.lower = bounds[0]
        self.scale = bounds[1] - bounds[0]
        self.best_value = torch.tensor(float("-inf"), dtype=bounds.dtype, device=bounds.device)
        self.best_u: Tensor | None = None
        self.trace: list[tuple[int, float]] = []
        self.polytope = polytope if polytope else None
        self.grid = grid if grid else None
        self.nonlinear = nonlinear if nonlinear else None
        self.least_violation = float("inf")
        self.least_violating_u: Tensor | None = None
        self.least_violating_value: Tensor | None = None
        self.initial = initial
        self.observers: list = []
        self.info: dict = {}
        self.patience = patience
        self._improved_at = 0  # queries when the best last rose by more than STALL_FTOL
        self._improved_value = float("-inf")

    @contextlib.contextmanager
    def observing(self, observer):
        """Calls ``observer(U, values)`` after every evaluation inside the ``with`` block
        (None: nothing), and stops calling it when the block ends, however it ends."""
        if observer is None:
            yield
            return
        self.observers.append(observer)
        try:
            yield
        finally:
            self.observers.remove(observer)

    @property
    def dtype(self) -> torch.dtype:
        return self.bounds.dtype

    @property
    def device(self) -> torch.device:
        return self.bounds.device

    @property
    def remaining(self) -> int | None:
        return self.counter.remaining

    def affordable(self, n: int) -> int:
        """How many of ``n`` candidates the remaining budget can pay for."""
        remaining = self.remaining
        return n if remaining is None else max(0, min(n, remaining))

    def to_bounds(self, U: Tensor) -> Tensor:
        """Maps unit-cube points ``... x d`` onto the box."""
        return self.lower + U * self.scale

    def to_unit(self, X: Tensor) -> Tensor:
        """Maps points in the box ``... x d`` into the unit cube."""
        return (X - self.lower) / self.scale

    def value(self, U: Tensor) -> Tensor:
        """Acquisition values of ``b x q x d`` unit-cube candidates, shape ``b``; no gradient."""
        with torch.no_grad():
            U = self._linear(U)
            if self.nonlinear is not None:
                U, violation = self._restored(U)
            values = self._clean(self.counter(self.to_bounds(U)))
            if self.nonlinear is not None:
                values = self._mask_infeasible(U, values, violation)
        self._record(U, values)
        return values

    def take_initial(self) -> Tensor | None:
        """The warm starts (``b x q x d``, unit cube), once: later calls return None."""
        initial, self.initial = self.initial, None
        return initial

    def feasible(self, U: Tensor) -> Tensor:
        """``U`` (``... x d``) projected onto the linear constraints, rounded onto the grid and
        restored onto the nonlinear constraints (unchanged without any)."""
        U = self._linear(U)
        return U if self.nonlinear is None else self._restored(U)[0]

    def _restored(self, U: Tensor) -> tuple[Tensor, Tensor]:
        """Points already on the linear constraints and the grid, restored onto the nonlinear
        ones, and their violations."""
        return self.nonlinear.restored(U, lambda V: self._linear(V.clamp(0.0, 1.0)))

    def _linear(self, U: Tensor) -> Tensor:
        if self.polytope is not None:
            U = self.polytope.project(U)
        return U if self.grid is None else self.grid.round(U.clamp(0.0, 1.0))

    def project(self, U: Tensor) -> Tensor:
        """Unit-cube points, flat (``b x q*d``) or not, projected onto the feasible set: the
        cube, the linear constraints and the grid, if any. Local searches keep their iterates
        here."""
        if self.polytope is None and self.grid is None and self.nonlinear is None:
            return U.clamp(0.0, 1.0)
        shape = U.shape
        return self.feasible(U.reshape(*shape[:-1], -1, self.d).clamp(0.0, 1.0)).reshape(shape)

    def steer(self, x: Tensor, d: Tensor) -> Tensor:
        """Search directions ``d`` from iterates ``x`` (both flat, ``b x q*d``), with the
        components that would leave an active nonlinear constraint removed (unchanged
        without nonlinear constraints)."""
        if self.nonlinear is None or d.numel() == 0:
            return d
        steered = self.nonlinear.steer(x.reshape(-1, self.d), d.reshape(-1, self.d))
        return steered.reshape(d.shape)

    def value_and_grad(self, U: Tensor) -> tuple[Tensor, Tensor]:
        """Values (``b``) and gradients w.r.t. ``U`` (``b x q x d``) in one batched call.

        Non-finite values come back as ``-inf`` with a zero gradient.
        """
        U = U.detach()
        if self.nonlinear is not None:
            return self._value_and_grad_restored(U)
        if self.polytope is None:
            F = U if self.grid is None else self.feasible(U)
            raw, grad = self.counter.value_and_grad(self.to_bounds(F))
            grad = grad * self.scale
            if self.grid is not None:  # rounding is flat along grid columns
                grad = grad.masked_fill(self.grid.mask, 0.0)
        else:  # the gradient through the projection onto the constraints, by autograd
            U.requires_grad_(True)
            with torch.enable_grad():
                F = self.feasible(U)
                raw = self.counter(self.to_bounds(F))
                (grad,) = torch.autograd.grad(raw.sum(), U)
            F = F.detach()
        values = self._clean(raw.detach())
        grad = torch.where(torch.isfinite(values)[:, None, None], grad, 0.0).nan_to_num(0.0, 0.0, 0.0)
        self._record(F, values)
        return values, grad

    def _value_and_grad_restored(self, U: Tensor) -> tuple[Tensor, Tensor]:
        """:meth:`value_and_grad` with nonlinear constraints: the gradient at the restored
        point, projected onto the active constraints' tangent space where the restoration
        moved the point, then through the linear projection by autograd."""
        track = self.polytope is not None
        with torch.enable_grad():
            V = U.requires_grad_(track)
            L = self._linear(V)
        start = L.detach()
        F, violation = self._restored(start)
        raw, grad = self.counter.value_and_grad(self.to_bounds(F))
        grad = grad * self.scale
        if self.grid is not None:
            grad = grad.masked_fill(self.grid.mask, 0.0)
        grad = self.nonlinear.tangent(F, grad, (F != start).any(-1))
        if track:
            (grad,) = torch.autograd.grad(L, V, grad_outputs=grad)
        values = self._mask_infeasible(F, self._clean(raw.detach()), violation)
        grad = torch.where(torch.isfinite(values)[:, None, None], grad, 0.0).nan_to_num(0.0, 0.0, 0.0)
        self._record(F, values)
        return values, grad

    def _mask_infeasible(self, F: Tensor, values: Tensor, violation: Tensor) -> Tensor:
        """``values`` with ``-inf`` where a candidate (``b x q x d``, its points' violations
        ``b x q``) violates a nonlinear constraint by more than FEASIBILITY_TOL; keeps the
        least-violating one."""
        violation = violation.amax(-1)
        i = int(violation.argmin())
        if float(violation[i]) < self.least_violation:
            self.least_violation = float(violation[i])
            self.least_violating_u = F[i].detach().clone()
            self.least_violating_value = values[i].detach().clone()
        return torch.where(violation <= FEASIBILITY_TOL, values, float("-inf"))

    def _clean(self, values: Tensor) -> Tensor:
        values = values.reshape(-1).to(self.dtype)
        return torch.where(torch.isfinite(values), values, float("-inf"))

    def _record(self, U: Tensor, values: Tensor) -> None:
        if values.numel() > 0:
            i = int(values.argmax())
            if values[i] > self.best_value:
                self.best_value = values[i].clone()
                self.best_u = U[i].detach().clone()
        best, queries = float(self.best_value), self.counter.queries
        self.trace.append((queries, best))
        for observe in self.observers:
            observe(U, values)
        if self.patience is None:
            return
        old = self._improved_value
        if best > old + STALL_FTOL * max(1.0, abs(old) if math.isfinite(old) else 1.0):
            self._improved_at, self._improved_value = queries, best
        elif queries - self._improved_at > max(self.patience, self._improved_at):
            raise Stalled(f"no improvement in the last {queries - self._improved_at} queries")
