"""Why GENNES's defaults: width h x learning rate eta on LogEI landscapes (the paper is silent).

Run: ``python -m benchmarks.gennes_sweep`` (about 3 minutes on 2 cores); writes
``benchmarks/results/gennes-sweep.md``. Gap = best LogEI found by ``lbfgs`` at 3000 queries
(3 seeds) minus GENNES's at 1000 queries (about BoTorch 10x512's count), over 3 landscapes x 3
seeds.
"""

from __future__ import annotations

import itertools
import statistics
import warnings
from pathlib import Path

import torch

import acqopt
from benchmarks.snapshots import acquisition

PROBLEMS = ("alpine1-d20-n115", "rastrigin-d8-n60", "schwefel-d10-n60")
WIDTHS = (32, 64, 128)
LRS = (3e-4, 1e-3, 3e-3)


def main() -> None:
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    acqs = {p: acquisition(p) for p in PROBLEMS}
    ref = {
        p: max(float(acqopt.get_optimizer("lbfgs").optimize(a, b, budget=3000, generator=s)
                     .acq_value) for s in range(3))
        for p, (a, b) in acqs.items()
    }
    lines = ["| width h | lr eta | median gap (nats) | worst gap | runs within 0.01 |",
             "|---|---|---|---|---|"]
    for width, lr in itertools.product(WIDTHS, LRS):
        gaps = []
        for p, (a, b) in acqs.items():
            for s in range(3):
                r = acqopt.get_optimizer("gennes", width=width, lr=lr).optimize(
                    a, b, budget=1000, generator=s)
                gaps.append(ref[p] - float(r.acq_value))
        lines.append(f"| {width} | {lr:g} | {statistics.median(gaps):.3f} | {max(gaps):.3f} "
                     f"| {sum(g <= 0.01 for g in gaps)}/{len(gaps)} |")
        print(lines[-1], flush=True)
    out = Path(__file__).parent / "results" / "gennes-sweep.md"
    out.write_text("# GENNES width x learning-rate sweep\n\n" + __doc__.split("\n", 2)[2] + "\n"
                   + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
