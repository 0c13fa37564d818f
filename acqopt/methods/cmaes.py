"""CMA-ES with an inner gradient local search (Qiu 2020, Algorithm 2), on pycma.

Every generation, pycma samples lambda candidates; the ``local`` search refines all of them in
one batch; CMA-ES ranks them by their refined values. Lamarckian (default, as in the paper): the
refined points are told to CMA-ES, which repairs those it did not sample by their Mahalanobis
length (pycma's ``tell(check_points=None)``). Baldwinian: the original points with the refined
values. ``"cma"`` (no local search, active CMA) is the papers' aCMA-ES baseline.

Mixed spaces (``discrete_dims``, ``cat_dims``): the Gaussian searches the relaxation, the
problem rounds every candidate onto the grid before it is valued (categories in the order of
their values), and each grid column's standard deviation is floored at a quarter of its gap
between values (pycma's ``minstd``), a margin in the spirit of Hamano et al. (CMA-ES with
margin, GECCO 2022) that keeps the distribution from collapsing onto one grid cell. The inner
local search alternates with discrete moves (:mod:`acqopt.local.mixed`); there categories
change to every other value, whatever their order.

References:
    Qiu. CMA-ES with gradient local search (project report). 2020.
    Hansen. The CMA Evolution Strategy: A Tutorial. arXiv:1604.00772.
    Jastrebski & Arnold. Improving evolution strategies through active covariance matrix
    adaptation. CEC 2006.
    Auger & Hansen. A restart CMA evolution strategy with increasing population size (IPOP).
    CEC 2005.
    Hamano, Saito, Nomura, Shirakawa. CMA-ES with margin: lower-bounding marginal probability
    for mixed-integer black-box optimization. GECCO 2022 (arXiv:2205.13482).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from acqopt.base import BaseOptimizer, Ending, Status, derive_seed, positive_float, positive_int
from acqopt.counting import Problem
from acqopt.design import check_design, initial_points
from acqopt.local import AdamAscent, ArmijoAscent, LocalSearch, NoLocalSearch, ProjectedLBFGS, mixed
from acqopt.outcomes import CMAESInfo
from acqopt.registry import register

UPDATES = ("lamarckian", "baldwinian")


@dataclass(frozen=True, kw_only=True)
class CMAES(BaseOptimizer):
    """CMA-ES (pycma, active) with a pluggable inner local search and IPOP restarts.

    Attributes:
        local: The inner local search applied to every sampled candidate (one batch).
        popsize: lambda; None for pycma's default ``4 + floor(3 ln(q d))``.
        sigma0: Initial step size in the unit cube (0.3 covers the box, as pycma recommends
            for a [0, 1] domain: about a third of the range).
        sigma_cap: The largest coordinate-wise standard deviation ``sigma * sqrt(C_ii)``,
            in the unit cube (pycma's ``maxstd``). Lamarckian updates move the told points
            away from where CMA-ES sampled them, which can inflate sigma; the cap bounds it.
        update: "lamarckian" (tell the refined points) or "baldwinian" (the sampled points
            with their refined values).
        raw_samples: Candidates scored to choose the first mean (the best of them). Restarts
            start from a uniformly random mean, as IPOP does, at no query cost.
        design: Where raw samples come from ("sobol", "uniform", "around_best", "mix").
        x0: An initial mean in ``bounds`` coordinates (``q * d`` values) for the first start,
            instead of the best raw sample.
        max_restarts: IPOP restarts (population doubled each time) after pycma's stopping
            criteria fire while budget remains.
        tolfun, tolx: pycma's convergence tolerances.
        wait_for: The share of a generation's local searches that must stop before CMA-ES
            ranks the generation. The others are ranked at the point they reached and go on
            searching, as extra rows, in the next generation's batch (from their point, with a
            fresh memory), so a generation does not wait for its slowest searches; the best
            point any search visits is kept. 1.0 waits for all.
        default_budget_queries: The budget used when ``budget=None``.
    """

    info_type = CMAESInfo

    name: str = "cma"
    local: LocalSearch = field(default_factory=NoLocalSearch)
    popsize: int | None = None
    sigma0: float = 0.3
    sigma_cap: float = 0.5
    update: str = "lamarckian"
    raw_samples: int = 256
    design: str = "sobol"
    x0: tuple[float, ...] | None = None
    max_restarts: int = 9
    tolfun: float = 1e-9
    tolx: float = 1e-9
    wait_for: float = 1.0
    default_budget_queries: int | None = 2048

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.popsize is not None:
            positive_int("popsize", self.popsize, 2)
        positive_float("sigma0", self.sigma0)
        positive_float("sigma_cap", self.sigma_cap)
        if self.update not in UPDATES:
            raise ValueError(f"update: expected one of {UPDATES}, got {self.update!r}")
        positive_int("raw_samples", self.raw_samples)
        check_design(self.design)
        positive_int("max_restarts", self.max_restarts, 0)
        positive_float("tolfun", self.tolfun)
        positive_float("tolx", self.tolx)
        if not 0.0 < self.wait_for <= 1.0:
            raise ValueError(f"wait_for: expected a share in (0, 1], got {self.wait_for!r}")

    def botorch_setting(self, num_restarts: int | None, raw_samples: int | None) -> dict:
        """``raw_samples`` choose the first mean; ``num_restarts`` CMA-ES runs in all (the first
        and ``num_restarts - 1`` IPOP restarts), as far as the budget goes."""
        out = {} if raw_samples is None else {"raw_samples": raw_samples}
        if num_restarts is not None:
            positive_int("num_restarts", num_restarts)
            out["max_restarts"] = num_restarts - 1
        return out

    def min_budget(self, q: int, d: int) -> int:
        return (0 if self.x0 is not None else self.raw_samples) + self._lambda(q * d)

    def _lambda(self, n: int) -> int:
        return self.popsize or 4 + int(3 * math.log(n))

    def _run(self, problem: Problem, generator: torch.Generator) -> Ending:
        rng = np.random.default_rng(derive_seed(generator))
        lam = self._lambda(problem.q * problem.d)
        progress, restarts, status = _Progress(), 0, Status.CONVERGED
        while True:
            mean = self._initial_mean(problem, generator, first=restarts == 0)
            es = self._strategy(problem, mean, lam, rng)
            self._evolve(problem, es, lam, progress)
            if problem.affordable(1) == 0:
                status = Status.BUDGET_EXHAUSTED
                break
            if restarts >= self.max_restarts:
                break
            restarts += 1
            lam *= 2  # IPOP
        problem.info.update(generations=progress.generations, restarts=restarts,
                            final_popsize=lam, final_sigma=float(es.sigma),
                            local_iterations=progress.local_iterations)
        return Ending(status, f"{progress.generations} generation(s), {restarts} restart(s), "
                              f"final popsize {lam}")

    def _strategy(self, problem: Problem, mean: np.ndarray, lam: int, rng: np.random.Generator):
        """A pycma ``CMAEvolutionStrategy`` (active CMA, in the unit cube) of population
        ``lam`` from ``mean``, drawing its normals from ``rng``."""
        with warnings.catch_warnings():  # pycma warns on import when matplotlib is missing
            warnings.filterwarnings("ignore", message=".*matplotlib.*")
            import cma

        n = problem.q * problem.d
        opts = {
            "popsize": lam,
            "bounds": [0.0, 1.0],
            "CMA_active": True,
            "maxstd": self.sigma_cap,
            "tolfun": self.tolfun,
            "tolx": self.tolx,
            "randn": lambda *shape: rng.standard_normal(shape),
            "seed": np.nan,  # never seed numpy's global RNG
            "verbose": -9,
            "verb_log": 0,
            "verb_disp": 0,
        }
        if n == 1:  # pycma's maxstd fails at d = 1 ("not yet initialized"): capped in _evolve
            opts["maxstd"] = np.inf
        if problem.grid is not None:  # a margin on grid columns (module docstring)
            opts["minstd"] = list(problem.grid.min_std().repeat(problem.q).numpy())
        return cma.CMAEvolutionStrategy(mean, self.sigma0, opts)

    def _evolve(self, problem: Problem, es, lam: int, progress: _Progress) -> None:
        """The generations of one CMA-ES run: each samples ``lam`` candidates, refines them
        beside the local searches still running from earlier generations (returning once all
        but ``1 - wait_for`` of them have ended) and tells CMA-ES the refined values. Ends when
        pycma stops, when the population has collapsed onto one point, or when the budget
        cannot pay for a whole generation."""
        q, d = problem.q, problem.d
        n = q * d
        while not es.stop():
            sampled = np.asarray(es.ask())
            k = problem.affordable(lam)
            if k == 0:
                return
            U = torch.as_tensor(sampled[:k], dtype=problem.dtype).to(problem.device)
            U = U.reshape(k, q, d)
            batch = U if progress.carried is None else torch.cat([U, progress.carried])
            until = lam - math.ceil(self.wait_for * lam)
            refined = mixed.refine(self.local, problem, batch, until=until)
            progress.generations += 1
            progress.local_iterations += int(refined.iterations.sum())
            if refined.values.shape[0] < lam:  # the budget truncated this generation
                return
            running = refined.running
            progress.carried = refined.U[running] \
                if running is not None and bool(running.any()) else None
            told = refined.U[:lam] if self.update == "lamarckian" else U
            if not _tell(es, told.reshape(lam, n), refined.values[:lam]):
                return  # this run has converged; restart or stop as after es.stop()
            if n == 1:
                es.sigma = min(es.sigma, self.sigma_cap / math.sqrt(float(es.C[0, 0])))

    def _initial_mean(self, problem: Problem, generator: torch.Generator, first: bool) -> np.ndarray:
        """The first start's mean is ``x0`` or the best raw sample; a restart's is uniform.

        Returned as a flat numpy vector in the unit cube.
        """
        if first and self.x0 is not None:
            x0 = torch.as_tensor(self.x0, dtype=problem.dtype, device=problem.device)
            if x0.numel() != problem.q * problem.d:
                raise ValueError(f"x0: expected q*d={problem.q * problem.d} values, got {x0.numel()}")
            U0 = problem.to_unit(x0.reshape(problem.q, problem.d))
            if not ((U0 >= 0) & (U0 <= 1)).all():
                raise ValueError("x0: expected a point inside bounds")
            return U0.reshape(-1).cpu().double().numpy()
        if not first:
            u = torch.rand(problem.q * problem.d, generator=generator, dtype=torch.float64)
            return u.numpy()
        U = initial_points(self.design, problem, self.raw_samples, generator)
        values = problem.value(U)
        return U[int(values.argmax())].reshape(-1).cpu().double().numpy()


@dataclass
class _Progress:
    """What one CMA-ES search carries across its IPOP restarts."""

    generations: int = 0
    local_iterations: int = 0
    carried: torch.Tensor | None = None  # local searches of past generations still running


def _tell(es, told: torch.Tensor, values: torch.Tensor) -> bool:
    """Tells ``es`` the points ``told`` (``lam x n``) and their values; False when the
    population was refined onto one point and the covariance collapsed."""
    try:
        es.tell(list(told.cpu().double().numpy()), _fitness(values))
    except RuntimeError as e:
        if "variance has become negative" not in str(e):
            raise
        return False
    return True


def _fitness(values: torch.Tensor) -> list[float]:
    """pycma minimises: negated values, with non-finite ones worse than every finite one."""
    f = -values.detach().cpu().double()
    finite = torch.isfinite(f)
    worst = float(f[finite].max()) + 1.0 if bool(finite.any()) else 1.0
    return torch.where(finite, f, torch.full_like(f, worst)).tolist()


# The papers' aCMA-ES baseline, and CMA-ES with each inner local search (Qiu 2020, Algorithm 2).
register(CMAES(name="cma"))
# cma-lbfgs defaults measured on LogEI landscapes at 1050 queries (5 landscapes x 3 seeds, runs
# within 0.01 nats of the best known): inner cap 10 iterations and sigma0 0.3: 3/15; 30 and 0.1:
# 14/15; 50 and 0.2: 14/15. Candidates must be refined to convergence for CMA-ES to rank
# acquisition peaks rather than slopes; sigma0 = 0.2 (+-2 sigma spans 80% of the box) keeps the
# search global around the best raw sample. wait_for = 0.7 (benchmarks/results/cma-wait-*.md;
# the commands: docs/benchmarks.md, "To tune a method"): on the 12 landscape snapshots (LogEI
# and EI, BoTorch 10x512's and 20x1024's query counts, seeds 0-1) 0.71-0.80x the calls of
# waiting for every search, 2 of 96 runs higher by 0.01 and none lower; confirmed on the global
# suite's Table 1 functions (d = 10 and 30, 6 folds, 1e4 queries): 19 paired wins and 11
# losses on regret, calls 0.61-0.75x.
register(CMAES(name="cma-lbfgs", local=ProjectedLBFGS(max_iter=50), sigma0=0.2,
               design="mix", wait_for=0.7))
register(CMAES(name="cma-linesearch", local=ArmijoAscent()))
register(CMAES(name="cma-adam", local=AdamAscent()))
