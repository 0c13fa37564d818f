"""Initial designs: where a method puts its first candidates in the unit cube.

Late in a BO run the best mode of EI is often a narrow peak near the incumbent, which
quasi-random points over the whole box miss. ``"around_best"`` perturbs the best training points
(the idea behind BoTorch's ``sample_around_best``); ``"mix"`` combines it with Sobol points.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.quasirandom import SobolEngine

from acqopt.base import derive_seed
from acqopt.counting import Problem

DESIGNS = ("sobol", "uniform", "around_best", "mix")


def check_design(design: str) -> None:
    if design not in DESIGNS:
        raise ValueError(f"design: expected one of {DESIGNS}, got {design!r}")


def uniform(n: int, q: int, d: int, generator: torch.Generator) -> Tensor:
    """``n x q x d`` points drawn uniformly from the unit cube (float64, CPU)."""
    return torch.rand(n, q, d, generator=generator, dtype=torch.float64)


def sobol(n: int, q: int, d: int, generator: torch.Generator) -> Tensor:
    """``n x q x d`` scrambled Sobol points in the unit cube (float64, CPU); uniform points
    beyond the ``SobolEngine.MAXDIM`` dimensions torch's Sobol sequence has."""
    if q * d > SobolEngine.MAXDIM:
        return uniform(n, q, d, generator)
    engine = SobolEngine(q * d, scramble=True, seed=derive_seed(generator))
    return engine.draw(n, dtype=torch.float64).reshape(n, q, d)


def best_training_points(problem: Problem, k: int | None) -> Tensor | None:
    """The ``k`` best training inputs of the acquisition's model (all for None), best first, in
    the unit cube (``k x d``).

    Returns None when the model has no single-output training data to read.
    """
    model = problem.counter.model
    try:
        X = model.train_inputs[0]
        Y = model.train_targets
    except (AttributeError, IndexError, TypeError):
        return None
    if not isinstance(X, Tensor) or not isinstance(Y, Tensor):  # e.g. a ModelListGP's tuples
        return None
    if X.dim() != 2 or Y.dim() != 1 or X.shape[-1] != problem.d or X.shape[0] == 0:
        return None
    transform = getattr(model, "input_transform", None)
    if transform is not None:
        X = transform.untransform(X)
    top = Y.argsort(descending=True)[:k]
    U = problem.to_unit(X[top].detach().to(problem.bounds))
    return U.clamp(0.0, 1.0).cpu().double()


def around_best(
    problem: Problem, n: int, generator: torch.Generator, k: int = 10
) -> Tensor | None:
    """``n x q x d`` Gaussian perturbations of the ``k`` best training points.

    Each point takes a random best point per q-slot and a scale drawn log-uniformly in
    ``[1e-3, 1e-1]`` of the unit cube, then is clipped into the cube.
    """
    centres = best_training_points(problem, k)
    if centres is None:
        return None
    q, d = problem.q, problem.d
    pick = torch.randint(0, centres.shape[0], (n, q), generator=generator)
    log_scale = torch.empty(n, q, 1, dtype=torch.float64).uniform_(
        math.log(1e-3), math.log(1e-1), generator=generator
    )
    noise = torch.randn(n, q, d, generator=generator, dtype=torch.float64)
    return (centres[pick] + noise * log_scale.exp()).clamp(0.0, 1.0)


def initial_points(
    design: str,
    problem: Problem,
    n: int,
    generator: torch.Generator,
    around_best_fraction: float = 0.2,
) -> Tensor:
    """``n x q x d`` starting candidates in the unit cube, on the problem's device and dtype.

    The problem's warm starts (``batch_initial_conditions``), if it has any not yet used, take
    the first places; ``n`` grows to hold them all.
    """
    check_design(design)
    warm = problem.take_initial()
    if warm is not None:
        rest = initial_points(design, problem, n - warm.shape[0], generator, around_best_fraction) \
            if n > warm.shape[0] else warm[:0]
        return torch.cat([warm.to(rest), rest])
    q, d = problem.q, problem.d
    spread = n  # the leading rows spread over the cube (not around the best points)
    if design == "uniform":
        U = uniform(n, q, d, generator)
    elif design == "sobol":
        U = sobol(n, q, d, generator)
    else:
        n_best = n if design == "around_best" else int(round(around_best_fraction * n))
        if n_best == 0:  # too few raw samples for a share around the best
            U = sobol(n, q, d, generator)
        else:
            near = around_best(problem, n_best, generator)
            spread = n - n_best if near is not None else n
            if near is None:
                near = sobol(n_best, q, d, generator)
            U = torch.cat([sobol(n - n_best, q, d, generator), near]) if n_best < n else near
    U = U.to(device=problem.device, dtype=problem.dtype)
    if problem.grid is not None:  # every allowed value equally likely; points near the best
        U = torch.cat([problem.grid.sample(U[:spread]), U[spread:]])  # are rounded when valued
    return U
