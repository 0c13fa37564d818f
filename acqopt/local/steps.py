"""Step-length rules for the local-search driver (:func:`acqopt.local.driver.descend`).

Each iteration of a start tries points ``x + t d`` (projected into the feasible set) until its
rule accepts one; every driver call evaluates one trial of every running start. A rule keeps
per-start state (one row per start). All arguments are full width (``b`` rows); a ``b`` bool
``mask`` says which starts the call is about, and rows outside it must not change:

- ``init(x, h, g)``: the state for ``b`` starts at ``x`` with values ``h`` and gradients ``g``.
- ``begin(state, mask, d, slope, first)``: the starts in ``mask`` have a new direction ``d``
  with slope ``g . d`` and the direction's suggested first step ``first``: set their first trial.
- ``state.step``: each start's current trial step (``b``).
- ``judge(state, mask, x, h, g, trial, h_t, g_t)``: the trials of the starts in ``mask`` were
  evaluated (other rows of ``trial``, ``h_t``, ``g_t`` hold ``x``, ``h``, ``g``); returns
  ``(moved, x_new, h_new, g_new, stopped)``: bool masks of the starts that take a step and of
  those that give up, and where the movers go (rows outside ``moved`` are ignored). Every other
  evaluated start tries again with its new ``state.step``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from acqopt.base import positive_float, positive_int


@dataclass
class WolfeBracket:
    """Per-start weak-Wolfe search state.

    Attributes:
        step: The current trial step.
        slope: ``g . d`` of the current direction.
        tries: Trials of the current iteration.
        lo: The longest step known to satisfy Armijo (0 if none); its point is
            ``x_lo``/``h_lo``/``g_lo``.
        hi: The shortest step known to fail Armijo (inf if none).
    """

    step: Tensor
    slope: Tensor
    tries: Tensor
    lo: Tensor
    hi: Tensor
    x_lo: Tensor
    h_lo: Tensor
    g_lo: Tensor


@dataclass(frozen=True)
class WeakWolfe:
    """Weak-Wolfe line search by bracketing (Nocedal & Wright, Section 3.5; Lewis & Overton 2013).

    A trial is accepted when it satisfies Armijo's sufficient decrease and the curvature
    condition ``g_t . s >= c2 g . s``. A trial that satisfies Armijo with the slope still steep is
    lengthened (x4 until a failure brackets it, then bisection), which lets L-BFGS cross plateaus
    of negative curvature that backtracking alone crawls over; a trial that fails Armijo is
    shortened (safeguarded quadratic interpolation until an Armijo point is known, then
    bisection). After ``max_trials`` trials a start takes its longest Armijo step, or gives up
    if it has none. A trial whose projection no longer moves also ends the search.

    Attributes:
        c1: Armijo sufficient-decrease constant.
        c2: Curvature constant (0.9, the usual quasi-Newton choice).
        max_trials: Trials per iteration.
    """

    c1: float = 1e-4
    c2: float = 0.9
    max_trials: int = 20

    def __post_init__(self) -> None:
        positive_float("c1", self.c1, upper=1.0)
        positive_float("c2", self.c2, upper=1.0)
        positive_int("max_trials", self.max_trials)
        if not self.c1 < self.c2:
            raise ValueError(f"c2: expected c1 < c2 < 1, got c1={self.c1}, c2={self.c2}")

    def init(self, x: Tensor, h: Tensor, g: Tensor) -> WolfeBracket:
        return WolfeBracket(
            step=x.new_zeros(x.shape[0]), slope=x.new_zeros(x.shape[0]),
            tries=torch.zeros(x.shape[0], dtype=torch.long, device=x.device),
            lo=x.new_zeros(x.shape[0]), hi=torch.full_like(h, float("inf")),
            x_lo=x.clone(), h_lo=h.clone(), g_lo=g.clone(),
        )

    def begin(self, state: WolfeBracket, mask: Tensor, d: Tensor, slope: Tensor,
              first: Tensor) -> None:
        state.step = torch.where(mask, first, state.step)
        state.slope = torch.where(mask, slope, state.slope)

    def judge(self, state: WolfeBracket, mask: Tensor, x: Tensor, h: Tensor, g: Tensor,
              trial: Tensor, h_t: Tensor, g_t: Tensor) -> tuple[Tensor, ...]:
        s = state
        move = trial - x
        decrease = (g * move).sum(-1)  # <= 0 along a descent direction
        armijo = torch.isfinite(h_t) & (h_t <= h + self.c1 * decrease) & (h_t <= h)
        curvature = (g_t * move).sum(-1) >= self.c2 * decrease
        stalled = (trial - s.x_lo).abs().amax(-1) <= 1e-12
        s.tries = s.tries + mask
        accept = mask & armijo & (curvature | stalled)
        longer = mask & armijo & ~accept
        shorter = mask & ~armijo
        if bool((longer | shorter).any()):  # else every evaluated start took its trial
            s.lo = torch.where(longer, s.step, s.lo)
            s.hi = torch.where(shorter, s.step, s.hi)
            # Shorter: safeguarded quadratic interpolation, or bisection once an Armijo step is
            # known.
            t, dh = s.step, h_t - h
            t_quad = -s.slope * t * t / (2 * (dh - s.slope * t)).clamp_min(1e-300)
            t_quad = torch.where(torch.isfinite(dh), t_quad, 0.1 * t)
            back = torch.minimum(torch.maximum(t_quad, 0.1 * t), 0.5 * t)
            bisect = 0.5 * (s.lo + s.hi)
            s.step = torch.where(shorter, torch.where(s.lo > 0, bisect, back),
                                 torch.where(longer, torch.where(torch.isinf(s.hi), 4.0 * t,
                                                                 bisect), t))
        out = mask & ~accept & (s.tries >= self.max_trials)
        fallback = out & (s.lo > 0)  # out of trials: take the longest Armijo step known
        moved = accept | fallback
        # Where each start stands: the trial if it satisfies Armijo, else its longest Armijo
        # point (the fallback's target). x_lo follows it; a mover starts afresh from there.
        armijo_trial = accept | longer
        x_new = torch.where(armijo_trial[:, None], trial, s.x_lo)
        h_new = torch.where(armijo_trial, h_t, s.h_lo)
        g_new = torch.where(armijo_trial[:, None], g_t, s.g_lo)
        s.x_lo, s.h_lo, s.g_lo = x_new, h_new, g_new
        s.tries = torch.where(moved, 0, s.tries)
        s.lo = torch.where(moved, 0.0, s.lo)
        s.hi = torch.where(moved, float("inf"), s.hi)
        return moved, x_new, h_new, g_new, out & ~fallback


@dataclass
class BacktrackingState:
    """Per-start backtracking state: the step (kept across iterations) and consecutive halvings."""

    step: Tensor
    halvings: Tensor
    fresh: Tensor


@dataclass(frozen=True)
class Backtracking:
    """Backtracking Armijo search with a step that persists across iterations (Qiu 2020, Alg. 1).

    A start's first trial moves ``length`` in the unit cube; a trial that fails Armijo's strict
    sufficient decrease halves the step, which then stays halved for later iterations, so steps
    shrink with the gradient near a minimum. ``max_halvings`` consecutive failures end the start.

    Attributes:
        length: Length of the first trial move.
        c1: Sufficient-decrease constant.
        max_halvings: Consecutive halvings before a start gives up.
    """

    length: float = 0.05
    c1: float = 1e-4
    max_halvings: int = 20

    def __post_init__(self) -> None:
        positive_float("length", self.length)
        positive_float("c1", self.c1, upper=1.0)
        positive_int("max_halvings", self.max_halvings)

    def init(self, x: Tensor, h: Tensor, g: Tensor) -> BacktrackingState:
        b = x.shape[0]
        return BacktrackingState(x.new_zeros(b), torch.zeros(b, dtype=torch.long, device=x.device),
                                 torch.ones(b, dtype=torch.bool, device=x.device))

    def begin(self, state: BacktrackingState, mask: Tensor, d: Tensor, slope: Tensor,
              first: Tensor) -> None:
        new = mask & state.fresh
        step = self.length / d.norm(dim=-1).clamp_min(1e-30)
        state.step = torch.where(new, step, state.step)
        state.fresh = state.fresh & ~new

    def judge(self, state: BacktrackingState, mask: Tensor, x: Tensor, h: Tensor, g: Tensor,
              trial: Tensor, h_t: Tensor, g_t: Tensor) -> tuple[Tensor, ...]:
        decrease = (g * (trial - x)).sum(-1)
        ok = mask & torch.isfinite(h_t) & (h_t <= h + self.c1 * decrease) & (h_t < h)
        rejected = mask & ~ok
        state.halvings = torch.where(ok, 0, state.halvings + rejected)
        state.step = torch.where(rejected, state.step * 0.5, state.step)
        stopped = rejected & (state.halvings >= self.max_halvings)
        return ok, trial, h_t, g_t, stopped


@dataclass
class FullStepState:
    step: Tensor


@dataclass(frozen=True)
class FullStep:
    """Takes the direction's step as it is (``t = 1``), better or worse, as Adam does.

    The driver still returns the best point each start visited. A non-finite value ends the start.
    """

    def init(self, x: Tensor, h: Tensor, g: Tensor) -> FullStepState:
        return FullStepState(x.new_ones(x.shape[0]))

    def begin(self, state: FullStepState, mask: Tensor, d: Tensor, slope: Tensor,
              first: Tensor) -> None:
        return None

    def judge(self, state: FullStepState, mask: Tensor, x: Tensor, h: Tensor, g: Tensor,
              trial: Tensor, h_t: Tensor, g_t: Tensor) -> tuple[Tensor, ...]:
        ok = mask & torch.isfinite(h_t)
        return ok, trial, h_t, g_t, mask & ~ok
