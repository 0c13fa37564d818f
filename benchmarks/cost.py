"""What an acquisition evaluation costs, and how much of each method's time it is.

Part 1: per-call and per-point wall time of one value-and-gradient call of LogEI on the
landscape snapshots' GPs, by batch size, through BoTorch (GPyTorch) and through the closed form
(:mod:`acqopt.closed_form`); the two are timed alternately in one process, so their ratio is
paired; then the same for qLogEI over 3 points. Part 2: for each method at BoTorch 10x512's query count, its wall time, the share of it
spent inside the acquisition (the rest is the optimiser's own overhead), calls and queries, with
the closed form on and off, and BoTorch's ``optimize_acqf`` in the same process.

Run: ``python -m benchmarks.cost [--snapshots ...] [--repeats 5]``; writes
``benchmarks/results/cost.md``.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch
from botorch.acquisition import qLogExpectedImprovement
from botorch.optim import optimize_acqf as botorch_optimize_acqf
from botorch.sampling import SobolQMCNormalSampler

import acqopt
from acqopt.closed_form import closed_form_acquisition
from acqopt.counting import CountingAcquisition
from benchmarks.snapshots import acquisition

RESULTS = Path(__file__).parent / "results"
BATCHES = (1, 4, 16, 64, 256, 1024, 4096)
SNAPSHOTS = ("alpine1-d20-n100", "rastrigin-d8-n60", "digits-d4-n35")


def call_seconds(acq, X: torch.Tensor, repeats: int) -> float:
    """Median seconds of one value-and-gradient call on ``X``: the evaluator's own
    ``value_and_grad`` where it has one (as the methods call it), else autograd."""
    direct = getattr(acq, "value_and_grad", None) if X.shape[-2] == 1 else None
    times = []
    for _ in range(repeats):
        Z = X.clone().requires_grad_(direct is None)
        start = time.perf_counter()
        if direct is not None:
            direct(Z)
        else:
            acq(Z).sum().backward()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def evaluation_table(snapshots, repeats: int, q: int = 1) -> str:
    """LogEI (``q = 1``) or qLogEI over ``q`` points with 128 fixed base samples (``q > 1``)."""
    lines = ["| snapshot | batch | BoTorch ms/call | closed form ms/call | BoTorch us/point "
             "| closed form us/point | ratio |", "|---|---|---|---|---|---|---|"]
    for name in snapshots:
        acq, bounds = acquisition(name, "logei")
        if q > 1:
            acq = qLogExpectedImprovement(acq.model, best_f=acq.best_f, sampler=SobolQMCNormalSampler(
                torch.Size([128]), seed=0))
        fast = closed_form_acquisition(acq)
        if fast is None:
            lines.append(f"| {name} | - | closed form not applicable | | | | |")
            continue
        g = torch.Generator().manual_seed(0)
        for b in BATCHES if q == 1 else BATCHES[:-1]:
            X = torch.rand(b, q, bounds.shape[-1], generator=g, dtype=torch.float64)
            call_seconds(acq, X, 1), call_seconds(fast, X, 1)  # warm-up
            slow = [call_seconds(acq, X, 1) for _ in range(repeats)]
            quick = [call_seconds(fast, X, 1) for _ in range(repeats)]
            s, f = statistics.median(slow), statistics.median(quick)
            lines.append(f"| {name} | {b} | {1e3 * s:.2f} | {1e3 * f:.2f} | {1e6 * s / b:.1f} "
                         f"| {1e6 * f / b:.1f} | {f / s:.2f} |")
    return "\n".join(lines)


class Timed(torch.nn.Module):
    """Wraps an acquisition and adds up the wall time spent in it: its forward passes, and its
    backward passes (from the gradient reaching its output to the gradient leaving its input,
    timed by tensor hooks)."""

    def __init__(self, acq) -> None:
        super().__init__()
        self.acq = acq
        self.model = getattr(acq, "model", None)
        self.seconds = 0.0
        self._backward_started = None

    def forward(self, X):
        start = time.perf_counter()
        out = self.acq(X)
        self.seconds += time.perf_counter() - start
        if out.requires_grad and X.requires_grad:
            out.register_hook(self._start)
            X.register_hook(self._stop)
        return out

    def value_and_grad(self, X):
        """The acquisition's own value and gradient (as the counter would call it), timed."""
        start = time.perf_counter()
        direct = getattr(self.acq, "value_and_grad", None)
        if direct is not None:
            out = direct(X)
        else:
            X = X.detach().requires_grad_(True)
            with torch.enable_grad():
                values = self.acq(X)
                out = values.detach(), torch.autograd.grad(values.sum(), X)[0]
        self.seconds += time.perf_counter() - start
        return out

    def _start(self, grad):
        self._backward_started = time.perf_counter()

    def _stop(self, grad):
        if self._backward_started is not None:
            self.seconds += time.perf_counter() - self._backward_started
            self._backward_started = None


def method_table(snapshots, methods, repeats: int) -> str:
    lines = ["| snapshot | method | evaluator | time s | / BoTorch | in acquisition | calls "
             "| queries | value - BoTorch's |", "|---|---|---|---|---|---|---|---|---|"]
    for name in snapshots:
        acq, bounds = acquisition(name, "logei")
        times, counter = [], None
        for seed in range(repeats):
            counter = CountingAcquisition(acq)
            start = time.perf_counter()
            with torch.random.fork_rng():
                torch.manual_seed(seed)
                _, bt_value = botorch_optimize_acqf(counter, bounds, q=1, num_restarts=10,
                                                    raw_samples=512)
            times.append(time.perf_counter() - start)
        bt_time, budget = statistics.median(times), counter.queries
        lines.append(f"| {name} | botorch 10x512 | botorch | {bt_time:.2f} | 1 | - "
                     f"| {counter.calls} | {budget} | 0 |")
        evaluators = {"closed form": closed_form_acquisition(acq), "botorch": acq}
        for method in methods:
            opt = acqopt.get_optimizer(method, fast=False)  # the evaluator is chosen here
            for evaluator, evaluated in evaluators.items():
                if evaluated is None:
                    continue
                runs = [profile_run(opt, evaluated, bounds, budget, seed)
                        for seed in range(repeats)]
                wall = statistics.median(r[0] for r in runs)
                share = statistics.median(r[1] for r in runs)
                r = runs[0][2]
                lines.append(
                    f"| {name} | {method} | {evaluator} | {wall:.2f} "
                    f"| {wall / bt_time:.2f} | {share:.0%} | {r.counts.calls} "
                    f"| {r.counts.queries} | {float(r.acq_value) - float(bt_value):+.2g} |")
    return "\n".join(lines)


def profile_run(opt, acq, bounds, budget, seed):
    """Wall time, the share of it inside the acquisition, and the result."""
    timed = Timed(acq)
    result = opt.optimize(timed, bounds, budget=budget, generator=seed)
    return result.wall_time, min(1.0, timed.seconds / result.wall_time), result


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", message=".*ExpectedImprovement has known numerical issues")
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cost",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--snapshots", nargs="+", default=list(SNAPSHOTS))
    parser.add_argument("--methods", nargs="+", default=["lbfgs", "cma-lbfgs", "gennes"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    command = "python -m benchmarks.cost " + shlex.join(sys.argv[1:] if argv is None else argv)
    text = (
        "# What an acquisition evaluation costs\n\n"
        "LogEI value and gradient on the landscape snapshots' GPs (single thread), BoTorch's "
        "path (GPyTorch) against the closed form; medians of paired, alternating calls in one "
        "process. Ratio = closed form / BoTorch.\n\n"
        + evaluation_table(args.snapshots, args.repeats)
        + "\n\n## qLogEI over q = 3 points\n\nBoTorch's MC acquisition with 128 fixed Sobol "
        "base samples, through GPyTorch's posterior against the closed form's joint posterior "
        "(the same sampler and formula); batch = number of q-sets.\n\n"
        + evaluation_table(args.snapshots, args.repeats, q=3)
        + "\n\n## Where each method's time goes\n\nAt BoTorch 10x512's query count; time is the "
        "median over seeds; 'in acquisition' is the share of wall time inside the acquisition's "
        "forward and backward passes or its own value_and_grad (timed by tensor hooks and around the call), the rest is the optimiser's overhead.\n\n"
        + method_table(args.snapshots, args.methods, args.repeats)
        + f"\n\nMade by `{command}` (1 thread).\n"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cost.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
