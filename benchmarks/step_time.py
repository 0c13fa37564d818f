"""One BO step's acquisition maximisation, BoTorch against acqopt's default, on the bo suite's
problems (paired, in one process).

For each problem of the bo suite, a GP is fitted to ``n_init + n_iter / 2`` random points of the
objective (the size of a mid-run step), LogEI is built exactly as the BO loop builds it, and
BoTorch's ``optimize_acqf`` 10x512 and acqopt's default ``lbfgs`` maximise it alternately (the
order flips every repetition), single-threaded. The bo suite's own per-step times come from
different processes under different load; this is the paired figure.

Run: ``python -m benchmarks.step_time [--repeats 6]``; writes ``benchmarks/results/step-time.md``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

import acqopt
from acqopt.bo import fit_gp, make_acquisition
from benchmarks.reference import BoTorchOptimizer
from benchmarks.suites.bo import PROBLEMS, _problem

RESULTS = Path(__file__).parent / "results"


def measure(name: str, repeats: int, method: str = "lbfgs") -> dict:
    objective, space = _problem(name, 0)
    n = PROBLEMS[name]["n_init"] + PROBLEMS[name]["n_iter"] // 2
    g = torch.Generator().manual_seed(0)
    U = torch.stack([space.round_unit(u) for u in
                     torch.rand(n, space.d, generator=g, dtype=torch.float64)])
    Y = -torch.tensor([objective(space.to_params(u)) for u in U],
                      dtype=torch.float64).unsqueeze(-1)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = fit_gp(U, Y)
    acq = make_acquisition(model, "logei")
    bounds = torch.stack([torch.zeros(space.d), torch.ones(space.d)]).double()
    pair = {"botorch": BoTorchOptimizer.from_name("botorch"),
            method: acqopt.get_optimizer(method)}
    times = {k: [] for k in pair}
    values = {k: [] for k in pair}
    evaluator = None
    for i in range(repeats):
        for key in (list(pair) if i % 2 == 0 else list(pair)[::-1]):
            start = time.perf_counter()
            result = pair[key].optimize(acq, bounds, generator=i)
            times[key].append(time.perf_counter() - start)
            values[key].append(float(result.acq_value))
            evaluator = result.info.get("evaluator") or evaluator
    ratios = [a / b for a, b in zip(times[method], times["botorch"])]
    gaps = [a - b for a, b in zip(values[method], values["botorch"])]
    return {"problem": name, "n": n, "d": space.d, "botorch": statistics.median(times["botorch"]),
            "acqopt": statistics.median(times[method]), "ratio": statistics.median(ratios),
            "gap": statistics.median(gaps), "evaluator": evaluator}


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(prog="python -m benchmarks.step_time",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--problems", nargs="+", default=[p for p in PROBLEMS if p != "digits"])
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = [measure(p, args.repeats) for p in args.problems]
    text = ("# One BO step: BoTorch 10x512 against acqopt's default `lbfgs`\n\n"
            + " ".join(__doc__.split("\n\n")[1].split()) + "\n\n"
            "| problem | d | GP points | BoTorch s | lbfgs s | paired ratio | lbfgs - BoTorch "
            "LogEI, median | evaluator |\n|---|---|---|---|---|---|---|---|\n"
            + "\n".join(f"| {r['problem']} | {r['d']} | {r['n']} | {r['botorch']:.3f} | "
                        f"{r['acqopt']:.3f} | {r['ratio']:.2f} | {r['gap']:+.1e} | "
                        f"{r['evaluator']} |" for r in rows)
            + f"\n\nMade by `python -m benchmarks.step_time --repeats {args.repeats}` "
            "(1 thread).\n")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "step-time.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
