"""Feasibility shared by every method: fixed features and linear constraints.

Linear constraints come in BoTorch's form, a list of ``(indices, coefficients, rhs)``:
``sum_i X[indices[i]] * coefficients[i] >= rhs`` (inequality) or ``= rhs`` (equality), applied to
each of the ``q`` points (intra-point; inter-point constraints, with 2-d ``indices``, are refused).

One mechanism serves all methods: :class:`Polytope` projects every candidate onto the feasible set
(the box intersected with the constraints) before the acquisition sees it, by Dykstra's
alternating projections, batched over candidates and differentiable by autograd. A method then
maximises ``acq(P(x))``: every evaluated point is feasible, the best one is what is returned, and a
gradient step that leaves the polytope slides along its face (the projection's Jacobian removes the
normal component).

References:
    Boyle & Dykstra. A method for finding projections onto the intersection of convex sets in
    Hilbert spaces. Lecture Notes in Statistics 37, 1986.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

Constraint = tuple[Tensor, Tensor, float]

FEASIBILITY_TOL = 1e-6
RESTORE_TOL = 1e-9  # the restoration aims this far inside the nonlinear constraints
HALVINGS = 6  # restoration step lengths tried: 1, 1/2, ..., 1/32 of the Gauss-Newton step


def normalize_fixed_features(fixed_features: object, bounds: Tensor) -> dict[int, float]:
    """``{column: value}`` with columns in ``[0, d)`` (negative ones count from the end, as in
    BoTorch) and float values inside ``bounds``; raises ``ValueError`` naming what is wrong."""
    d = bounds.shape[-1]
    if fixed_features is None:
        return {}
    if not isinstance(fixed_features, Mapping):
        raise ValueError(
            f"fixed_features: expected a mapping {{column: value}}, got "
            f"{type(fixed_features).__name__}"
        )
    out: dict[int, float] = {}
    for c, v in fixed_features.items():
        if isinstance(c, bool) or not isinstance(c, int) or not -d <= c < d:
            raise ValueError(f"fixed_features: columns must be ints in [-{d}, {d}), got {c!r}")
        if isinstance(v, Tensor) and v.numel() == 1:
            v = float(v)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(
                f"fixed_features: the value of column {c} must be a real number (per-restart "
                f"tensors are not supported), got {v!r}"
            )
        col = c % d
        if col in out:
            raise ValueError(f"fixed_features: column {col} is given twice ({c!r})")
        if not float(bounds[0, col]) <= v <= float(bounds[1, col]):
            raise ValueError(f"fixed_features: value {v} of column {c} is outside bounds")
        out[col] = float(v)
    if len(out) == d:
        raise ValueError("fixed_features: every column is fixed; there is nothing to optimise")
    return out


def parse_constraints(constraints: object, name: str, d: int, bounds: Tensor) -> list[tuple[Tensor, float]]:
    """BoTorch's ``[(indices, coefficients, rhs), ...]`` -> dense ``(a, b)`` rows with
    ``a . x (>= or =) b`` in ``bounds`` coordinates."""
    if constraints is None:
        return []
    if not isinstance(constraints, Sequence) or isinstance(constraints, (str, Tensor)):
        raise ValueError(f"{name}: expected a list of (indices, coefficients, rhs) tuples")
    rows = []
    for k, item in enumerate(constraints):
        if not isinstance(item, (tuple, list)) or len(item) != 3:
            raise ValueError(f"{name}[{k}]: expected a tuple (indices, coefficients, rhs)")
        indices, coefficients, rhs = item
        indices = torch.as_tensor(indices)
        coefficients = torch.as_tensor(coefficients, dtype=bounds.dtype)
        if indices.dim() == 2:
            raise ValueError(
                f"{name}[{k}]: inter-point constraints (2-d indices) are not supported; "
                "give intra-point constraints with 1-d indices"
            )
        if (indices.dim() != 1 or indices.dtype in (torch.float32, torch.float64)
                or coefficients.shape != indices.shape or indices.numel() == 0):
            raise ValueError(
                f"{name}[{k}]: expected 1-d integer indices and coefficients of the same length"
            )
        if not ((indices >= 0) & (indices < d)).all():
            raise ValueError(f"{name}[{k}]: indices must lie in [0, {d})")
        try:
            rhs = float(rhs)
        except (TypeError, ValueError):
            raise ValueError(f"{name}[{k}]: rhs must be a real number, got {rhs!r}") from None
        if not (torch.isfinite(coefficients).all() and abs(rhs) < float("inf")):
            raise ValueError(f"{name}[{k}]: coefficients and rhs must be finite")
        a = torch.zeros(d, dtype=bounds.dtype)
        a.index_add_(0, indices.long().cpu(), coefficients.cpu())
        if not a.abs().max() > 0:
            raise ValueError(f"{name}[{k}]: all coefficients are zero")
        rows.append((a.to(bounds.device), rhs))
    return rows


class Polytope:
    """The feasible set ``{u in [0, 1]^d : A_in u >= b_in, A_eq u = b_eq}`` in the unit cube.

    Built from BoTorch-form constraints in ``bounds`` coordinates; :meth:`project` maps
    ``... x d`` unit-cube points onto it (Euclidean projection, by Dykstra's algorithm).

    Args:
        bounds: ``2 x d`` box the constraints' coordinates refer to.
        inequality_constraints: BoTorch's ``[(indices, coefficients, rhs)]``, ``>= rhs``.
        equality_constraints: The same form, ``= rhs``.
        max_iter: Dykstra sweeps at most.
        tol: Stop once every constraint holds within this (unit-cube units).
    """

    def __init__(self, bounds: Tensor, inequality_constraints=None, equality_constraints=None,
                 *, max_iter: int = 2000, tol: float = 1e-9) -> None:
        d = bounds.shape[-1]
        lower, scale = bounds[0], bounds[1] - bounds[0]
        self.max_iter, self.tol = max_iter, tol
        rows = []
        # a . (lower + scale u) >= b  <=>  (a * scale) . u >= b - a . lower
        for kind, cons in (("ineq", inequality_constraints), ("eq", equality_constraints)):
            name = f"{'in' if kind == 'ineq' else ''}equality_constraints"
            for a, b in parse_constraints(cons, name, d, bounds):
                a_u = a * scale
                b_u = b - float((a * lower).sum())
                norm = float(a_u.norm())
                rows.append((kind, a_u / norm, b_u / norm))  # unit normals: distances in u
        self.rows = rows

    def __bool__(self) -> bool:
        return bool(self.rows)

    def violation(self, U: Tensor) -> Tensor:
        """Largest violation of any constraint or bound per point (``...``), in unit-cube units."""
        v = torch.maximum((-U).amax(-1), (U - 1).amax(-1)).clamp_min(0.0)
        for kind, a, b in self.rows:
            r = b - (U * a).sum(-1)
            v = torch.maximum(v, r.clamp_min(0.0) if kind == "ineq" else r.abs())
        return v

    def project(self, U: Tensor) -> Tensor:
        """Maps ``... x d`` points onto the polytope (differentiable): the Euclidean projection
        of the point clamped into the cube, which leaves every feasible point where it is.

        Raises:
            ValueError: If the projection does not reach the constraints within ``tol``
                (the constraints and bounds admit no point).
        """
        x = U.clamp(0.0, 1.0)  # far-away points (long line-search trials) converge slowly
        if not self.rows:
            return x
        # Dykstra: one correction term per set (the box and each constraint).
        corrections = [torch.zeros_like(U) for _ in range(len(self.rows) + 1)]
        for sweep in range(self.max_iter):
            y = (x + corrections[0]).clamp(0.0, 1.0)
            corrections[0] = x + corrections[0] - y
            x = y
            for k, (kind, a, b) in enumerate(self.rows, start=1):
                z = x + corrections[k]
                gap = b - (z * a).sum(-1, keepdim=True)
                if kind == "ineq":
                    gap = gap.clamp_min(0.0)
                y = z + gap * a
                corrections[k] = z - y
                x = y
            if sweep % 5 == 4 and float(self.violation(x.detach()).max()) <= self.tol:
                return x.clamp(0.0, 1.0)
        if float(self.violation(x).max()) > max(self.tol, FEASIBILITY_TOL):
            raise ValueError(
                "inequality_constraints, equality_constraints: no point inside bounds satisfies "
                "them (the projection did not converge)"
            )
        return x.clamp(0.0, 1.0)


def check_nonlinear(constraints: object) -> list:
    """BoTorch's ``nonlinear_inequality_constraints`` (``[(callable, is_intrapoint)]``,
    ``callable(x) >= 0``) as a list of callables; raises ``ValueError`` naming what is wrong.
    Inter-point constraints (``is_intrapoint=False``) are refused."""
    name = "nonlinear_inequality_constraints"
    if constraints is None:
        return []
    if not isinstance(constraints, Sequence) or isinstance(constraints, (str, Tensor)):
        raise ValueError(f"{name}: expected a list of (callable, is_intrapoint) tuples")
    funcs = []
    for k, item in enumerate(constraints):
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise ValueError(f"{name}[{k}]: expected a tuple (callable, is_intrapoint)")
        func, intra = item
        if not callable(func):
            raise ValueError(f"{name}[{k}]: the first element must be callable, got {func!r}")
        if not isinstance(intra, bool):
            raise ValueError(f"{name}[{k}]: is_intrapoint must be a bool, got {intra!r}")
        if not intra:
            raise ValueError(
                f"{name}[{k}]: inter-point constraints (is_intrapoint=False) are not supported; "
                "give constraints on one point (callable(x) with x of shape d)"
            )
        funcs.append(func)
    return funcs


class NonlinearConstraints:
    """Intra-point constraints ``c_j(x) >= 0`` on each of the ``q`` points, with a restoration
    that moves unit-cube points onto the set they define.

    No feasible start is needed: every candidate a method proposes is first restored, by
    minimum-norm Gauss-Newton steps on the violated constraints (the linearised constraints'
    nearest point, ``delta = pinv(J_V) (-c_V)``, its length capped at ``max_step``), each
    followed by the projection onto the box, the linear constraints and the grid
    (``project``); a point already feasible does not move. This is the restoration phase of
    Rosen's gradient projection method for nonlinear constraints; its simultaneous form over
    the violated set is Chinneck's constraint consensus. Gradient methods then see the gradient
    projected onto the tangent space of the constraints a restored point sits on
    (:meth:`tangent`), as Rosen's method moves; population methods see their candidates
    repaired. A point the restoration leaves infeasible by more than :data:`FEASIBILITY_TOL` is
    never returned (the problem gives it the value ``-inf``).

    The callables take one point in ``bounds`` coordinates (shape ``d``) and return a scalar,
    as BoTorch's; they must be differentiable by autograd (torch operations). A callable that
    also maps an ``N x d`` batch to ``N`` values is called once per batch; else it is batched
    by ``torch.func.vmap``; else called one point at a time (the first way that agrees with
    one call per point on three probe points).

    References:
        Rosen. The gradient projection method for nonlinear programming, part II: nonlinear
        constraints. J. SIAM 9(4), 1961.
        Chinneck. The constraint consensus method for finding approximately feasible points
        in nonlinear programs. INFORMS J. Computing 16(3), 2004.

    Args:
        constraints: BoTorch's ``[(callable, True), ...]``.
        bounds: ``2 x d`` box; the callables see points inside it.
        frozen: A ``d`` bool mask of columns the restoration must not move (grid columns).
        max_iter: Restoration steps at most.
        max_step: The longest restoration step, in unit-cube units.
    """

    def __init__(self, constraints: object, bounds: Tensor, *, frozen: Tensor | None = None,
                 max_iter: int = 50, max_step: float = 0.25) -> None:
        self.funcs = check_nonlinear(constraints)
        self.lower, self.scale = bounds[0], bounds[1] - bounds[0]
        self.frozen = frozen
        self.max_iter, self.max_step = max_iter, max_step
        self._batched: list[str | None] = [None] * len(self.funcs)

    def __bool__(self) -> bool:
        return bool(self.funcs)

    def values(self, U: Tensor) -> Tensor:
        """``c_j`` at ``N x d`` unit-cube points: ``N x m`` (differentiable)."""
        X = self.lower + U * self.scale
        return torch.stack([self._call(j, X) for j in range(len(self.funcs))], dim=-1)

    def violation(self, U: Tensor) -> Tensor:
        """The largest violation ``max_j max(0, -c_j)`` per point of ``... x d``: shape ``...``
        (``inf`` where a constraint is not finite)."""
        return self._violation(self.values(U.reshape(-1, U.shape[-1]))).reshape(U.shape[:-1])

    def restore(self, U: Tensor, project) -> Tensor:
        """``... x d`` unit-cube points moved onto the constraints (no gradient); see
        :meth:`restored`."""
        return self.restored(U, project)[0]

    def restored(self, U: Tensor, project) -> tuple[Tensor, Tensor]:
        """``... x d`` unit-cube points moved onto the constraints (no gradient), and their
        largest violations (``...``): Gauss-Newton steps on the violated constraints (aiming
        ``RESTORE_TOL`` inside; at a face of the cube, also with the face's coordinates held),
        each tried at ``HALVINGS`` lengths after ``project`` (onto the box, the linear
        constraints and the grid); a point takes the trial nearest the constraints (to first
        order: violation over gradient norm, which makes constraints of any scale comparable)
        if it is nearer than the point, until every constraint holds to ``RESTORE_TOL``, no
        trial helps, or ``max_iter`` steps."""
        shape = U.shape
        U = U.detach().reshape(-1, shape[-1]).clone()
        with torch.no_grad():
            violation = self._violation(self.values(U))
        rows = torch.arange(U.shape[0], device=U.device)
        for _ in range(self.max_iter):
            rows = rows[violation[rows] > RESTORE_TOL]
            if rows.numel() == 0:
                break
            C, J = self._jacobian(U[rows])
            J = J.nan_to_num(0.0, 0.0, 0.0)
            norms = J.norm(dim=-1).clamp_min(torch.finfo(U.dtype).tiny)
            steps, tried = self._gauss_newton(U[rows], C, J)
            steps = steps * (self.max_step / steps.norm(dim=-1, keepdim=True)).clamp(max=1.0)
            moved = self._line_search(U, rows, steps.nan_to_num(0.0, 0.0, 0.0), tried, norms,
                                      self._distance(C, norms), violation, project)
            rows = rows[moved]  # a point no step helped is left as it is
        return U.reshape(shape), violation.reshape(shape[:-1])

    @staticmethod
    def _gauss_newton(U: Tensor, C: Tensor, J: Tensor) -> tuple[Tensor, Tensor]:
        """Candidate steps (``k x N x d``) from unit-cube points ``U`` and which of them to try
        (``k x N``): the least-norm step that brings the violated constraints to
        ``RESTORE_TOL`` inside, to first order, for every point; and where it would leave the
        cube through a face a point lies on, also the same step with those coordinates held
        (the projection onto the cube would cut them, and a step computed with them then makes
        only part of its progress at every iteration, a linear convergence; holding them can
        also leave the other coordinates unable to reach the constraints, so both are tried)."""
        target = (RESTORE_TOL - C).clamp_min(0.0).nan_to_num(0.0, 0.0, 0.0).unsqueeze(-1)
        J = J * (target > 0)
        delta = (torch.linalg.pinv(J) @ target).squeeze(-1)
        held = ((U <= 0.0) & (delta < 0)) | ((U >= 1.0) & (delta > 0))
        every = torch.ones_like(held[:, 0])
        if not bool(held.any()):
            return delta.unsqueeze(0), every.unsqueeze(0)
        inside = (torch.linalg.pinv(J.masked_fill(held.unsqueeze(-2), 0.0)) @ target).squeeze(-1)
        return torch.stack([delta, inside]), torch.stack([every, held.any(-1)])

    def _line_search(self, U: Tensor, rows: Tensor, steps: Tensor, tried: Tensor,
                     norms: Tensor, now: Tensor, violation: Tensor, project) -> Tensor:
        """Moves each of ``rows`` to the trial, among its candidate ``steps`` (``k x N x d``,
        those ``tried``) at lengths 1, 1/2, ..., ``1/2**(HALVINGS-1)``, nearest the
        constraints, if it is nearer than ``now``. All trials go to the constraints in one
        call. Updates ``U`` and ``violation`` in place; returns which rows moved."""
        k, n, d = steps.shape
        lengths = 0.5 ** torch.arange(HALVINGS, dtype=U.dtype, device=U.device)
        raw = (U[rows] + steps.unsqueeze(1) * lengths[:, None, None]).reshape(-1, n, d)
        mask = tried.repeat_interleave(HALVINGS, dim=0)  # (k * HALVINGS) x n
        trials = project(raw[mask])
        with torch.no_grad():
            C_trial = self.values(trials)
        distance = torch.full(mask.shape, float("inf"), dtype=U.dtype, device=U.device)
        distance[mask] = self._distance(C_trial, norms.expand(*mask.shape, -1)[mask])
        best = distance.argmin(0)
        pick = torch.arange(n, device=U.device)
        moved = distance[best, pick] < now
        chosen = (mask.flatten().cumsum(0) - 1).reshape(mask.shape)[best, pick][moved]
        U[rows[moved]] = trials[chosen]
        violation[rows[moved]] = self._violation(C_trial[chosen])
        return moved

    @staticmethod
    def _distance(C: Tensor, norms: Tensor) -> Tensor:
        """Squared first-order distance to the constraints (violation over gradient norm)."""
        d = ((RESTORE_TOL - C).clamp_min(0.0) / norms).square().sum(-1)
        return d.nan_to_num(float("inf"), float("inf"))

    @staticmethod
    def _violation(C: Tensor) -> Tensor:
        return (-C).clamp_min(0.0).nan_to_num(float("inf")).amax(-1)

    def tangent(self, F: Tensor, grad: Tensor, moved: Tensor) -> Tensor:
        """``grad`` (``... x d``, at restored points ``F``) projected onto the tangent space of
        the constraints active at ``F`` (``c_j < FEASIBILITY_TOL``), for points the restoration
        ``moved`` (``...``); unchanged elsewhere: the restoration's Jacobian there."""
        rows = moved.reshape(-1).nonzero().flatten()
        if rows.numel() == 0:
            return grad
        d = F.shape[-1]
        g = grad.reshape(-1, d).clone()
        C, J = self._jacobian(F.reshape(-1, d)[rows])
        g[rows] = _off_normals(J * (C < FEASIBILITY_TOL).unsqueeze(-1), g[rows])
        return g.reshape(grad.shape)

    def steer(self, X: Tensor, D: Tensor) -> Tensor:
        """Search directions ``D`` (``N x d``) from points ``X`` on the constraints, with the
        components that would leave a constraint active at ``X`` (``c_j < FEASIBILITY_TOL``
        and ``D . grad c_j < 0``) removed: Rosen's projected direction, so that a step leaves
        the set only by the constraints' curvature."""
        C, J = self._jacobian(X)
        J = J * ((C < FEASIBILITY_TOL) & ((J @ D.unsqueeze(-1)).squeeze(-1) < 0)).unsqueeze(-1)
        rows = J.flatten(1).any(-1).nonzero().flatten()
        if rows.numel() == 0:
            return D
        return D.index_put((rows,), _off_normals(J[rows], D[rows]))

    def _jacobian(self, U: Tensor) -> tuple[Tensor, Tensor]:
        """``c`` (``N x m``) and its Jacobian in the unit cube (``N x m x d``), frozen columns
        zeroed."""
        with torch.enable_grad():
            U = U.detach().requires_grad_(True)
            C = self.values(U)
            J = None
            if C.requires_grad and C.shape[-1] > 1:  # all rows in one (vmapped) backward
                eye = torch.eye(C.shape[-1], dtype=C.dtype, device=C.device)
                try:
                    (J,) = torch.autograd.grad(C, U, eye.unsqueeze(1).expand(-1, *C.shape),
                                               retain_graph=True, is_grads_batched=True)
                    J = J.transpose(0, 1)
                except RuntimeError:  # an operation without a batching rule
                    J = None
            if J is None:
                grads = []
                for j in range(C.shape[-1]):
                    g = (torch.autograd.grad(C[:, j].sum(), U, retain_graph=True,
                                             allow_unused=True)[0] if C.requires_grad else None)
                    grads.append(torch.zeros_like(U) if g is None else g)
                J = torch.stack(grads, dim=1)
        if self.frozen is not None:
            J = J.masked_fill(self.frozen.to(J.device), 0.0)
        return C.detach(), J

    def _call(self, j: int, X: Tensor) -> Tensor:
        """Constraint ``j`` at ``N x d`` points (bounds coordinates): ``N`` values."""
        func = self.funcs[j]
        if X.shape[0] == 0:
            return X.new_empty(0)
        if self._batched[j] is None:
            self._batched[j] = self._probe(j, X)
        if self._batched[j] == "batch":
            return func(X).reshape(-1).to(X)
        if self._batched[j] == "vmap":
            return torch.func.vmap(func)(X).reshape(-1).to(X)
        return self._loop(j, X)

    def _probe(self, j: int, X: Tensor) -> str:
        """How to call constraint ``j`` on many points: "batch" (the callable itself takes an
        ``N x d`` batch and returns ``N`` values), "vmap", or "loop" (one point at a time),
        the first that agrees with one call per point on three points."""
        func = self.funcs[j]
        i = torch.arange(3, dtype=X.dtype, device=X.device).unsqueeze(-1)
        k = torch.arange(X.shape[-1], dtype=X.dtype, device=X.device)
        probe = self.lower + self.scale * torch.frac(0.31 + 0.23 * i + 0.17 * k)  # inside
        looped = self._loop(j, probe)
        for how, call in (("batch", func), ("vmap", torch.func.vmap(func))):
            try:
                out = torch.as_tensor(call(probe))
            except Exception:  # noqa: BLE001 - not batchable: shapes, .item(), control flow
                continue
            if out.shape == (3,) and torch.allclose(out.to(looped), looped, equal_nan=True):
                return how
        return "loop"

    def _loop(self, j: int, X: Tensor) -> Tensor:
        out = []
        for x in X:
            try:
                c = self.funcs[j](x)
            except Exception as e:
                raise ValueError(
                    f"nonlinear_inequality_constraints[{j}]: calling it on one point (a tensor "
                    f"of shape ({X.shape[-1]},)) failed: {type(e).__name__}: {e}"
                ) from e
            c = torch.as_tensor(c, dtype=X.dtype, device=X.device)
            if c.numel() != 1:
                raise ValueError(
                    f"nonlinear_inequality_constraints[{j}]: expected a scalar for one point of "
                    f"shape ({X.shape[-1]},), got shape {tuple(c.shape)}"
                )
            out.append(c.reshape(()))
        return torch.stack(out) if out else X.new_empty(0)


def _off_normals(J: Tensor, V: Tensor) -> Tensor:
    """Vectors ``V`` (``N x d``) less their components along the rows of ``J`` (``N x m x d``;
    zero rows for constraints left out): ``v - J^+ J v``, the projection onto the tangent space
    of the constraints kept (Rosen's projected gradient)."""
    step = (torch.linalg.pinv(J) @ (J @ V.unsqueeze(-1))).squeeze(-1)
    return V - step.nan_to_num(0.0, 0.0, 0.0)
