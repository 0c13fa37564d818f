"""Acquisition landscapes: GP states saved part-way through BO runs.

Runs: Alpine1-20D (the paper's A.3 set-up, 100 initial points), the paper's digits problem
(test error of SGD logistic regression, 4 hyperparameters, 20 initial points), and two multimodal
functions. Each snapshot is the training data and fitted hyperparameters of an ARD Matern-5/2 GP at one
point of a deterministic BO run (LogEI maximised by ``acqopt``'s ``lbfgs``), saved under
``benchmarks/data/`` (a few KB each) and rebuilt exactly by :func:`load`. ``make_snapshots``
regenerates them.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from botorch.models import SingleTaskGP
from botorch.models.transforms import Standardize
from gpytorch.kernels import MaternKernel, ScaleKernel

import acqopt
from acqopt.bo import fit_gp, make_acquisition
from benchmarks.functions import get_function
from benchmarks import digits

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Run:
    """A BO run whose GP is saved at the given numbers of observations."""

    function: str
    d: int
    n_init: int
    snapshots: tuple[int, ...]
    seed: int = 0


RUNS = (
    Run("alpine1", 20, 100, (100, 115, 130)),
    Run("rastrigin", 8, 20, (40, 60, 80)),
    Run("schwefel", 10, 20, (40, 60, 80)),
    Run("digits", 4, 20, (20, 35, 50)),
)


def snapshot_names() -> list[str]:
    return [f"{r.function}-d{r.d}-n{n}" for r in RUNS for n in r.snapshots]


def _objective(run: Run) -> Callable[[torch.Tensor], torch.Tensor]:
    """Unit-cube points (``n x d``) -> values to minimise (``n``)."""
    if run.function == "digits":
        error, space = digits.make_objective(run.seed), digits.space()
        return lambda U: torch.tensor([error(space.to_params(u)) for u in U], dtype=U.dtype)
    f = get_function(run.function)
    return lambda U: f(f.lower + U * (f.upper - f.lower))


def _round(run: Run, U: torch.Tensor) -> torch.Tensor:
    """Integer parameters moved to their grid (digits' ``n_iter``); others unchanged."""
    return digits.space().round_unit(U) if run.function == "digits" else U


def make_snapshots(runs=RUNS, out: Path = DATA) -> None:
    """Runs each BO loop and saves the GP at its snapshot sizes."""
    out.mkdir(parents=True, exist_ok=True)
    for run in runs:
        f = _objective(run)
        g = torch.Generator().manual_seed(run.seed)
        X = _round(run, torch.rand(run.n_init, run.d, generator=g, dtype=torch.float64))
        Y = -f(X).unsqueeze(-1)
        bounds = torch.stack([torch.zeros(run.d), torch.ones(run.d)]).double()
        while True:
            with torch.random.fork_rng():
                torch.manual_seed(run.seed + X.shape[0])
                model = fit_gp(X, Y, closed_form=False)  # the stored GPs' fit
            if X.shape[0] in run.snapshots:
                path = out / f"{run.function}-d{run.d}-n{X.shape[0]}.pt"
                torch.save({"X": X, "Y": Y, "state": model.state_dict()}, path)
                print(f"saved {path.name}: best observed {float(-Y.max()):.4g}")
            if X.shape[0] >= max(run.snapshots):
                break
            acq = make_acquisition(model, "logei")
            x, _ = acqopt.optimize_acqf(acq, bounds, budget=2000, generator=X.shape[0])
            x = _round(run, x)
            X = torch.cat([X, x])
            Y = torch.cat([Y, -f(x).unsqueeze(-1)])


def load(name: str) -> SingleTaskGP:
    """The GP of snapshot ``name`` (e.g. ``"alpine1-d20-n115"``), in eval mode."""
    state = torch.load(DATA / f"{name}.pt", weights_only=True)
    X, Y = state["X"], state["Y"]
    covar = ScaleKernel(MaternKernel(nu=2.5, ard_num_dims=X.shape[-1]))
    model = SingleTaskGP(X, Y, covar_module=covar, outcome_transform=Standardize(m=1))
    model.load_state_dict(state["state"])
    return model.eval()


def acquisition(name: str, kind: str = "logei"):
    """LogEI or EI on snapshot ``name``, and its unit-cube bounds."""
    model = load(name)
    d = model.train_inputs[0].shape[-1]
    bounds = torch.stack([torch.zeros(d), torch.ones(d)]).double()
    return make_acquisition(model, kind), bounds


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Regenerate benchmarks/data/*.pt")
    parser.add_argument("--runs", nargs="+", choices=[r.function for r in RUNS],
                        help="only these runs (all by default)")
    args = parser.parse_args()
    make_snapshots([r for r in RUNS if args.runs is None or r.function in args.runs])
