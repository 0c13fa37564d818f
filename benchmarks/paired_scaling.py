"""Paired timing of single scaling points: BoTorch 10x512 and acqopt's drop-in alternating in
one process, each repeated and the faster of each run taken, on an idle machine.

The scaling suite runs each method as its own task, once; its ratios move by up to a third
between runs of the same code (by more when run with two workers side by side). This takes
longer per point and says less about growth, but its ratios are the ones to quote for one
point.

    python -m benchmarks.paired_scaling [--seeds 3] [--repeats 2]
"""

from __future__ import annotations

import argparse
import statistics
import warnings

import torch

from benchmarks.suites import scaling

POINTS = [
    dict(scaling.BASE), dict(scaling.BASE, d=5), dict(scaling.BASE, acq="ei"),
    dict(scaling.BASE, model="default"), dict(scaling.BASE, acq="qlogei"),
    *(dict(scaling.BASE, acq="qlogei", q=q, mode="sequential") for q in (2, 3, 4, 6, 8)),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    for point in POINTS:
        ratios = []
        for seed in range(args.seeds):
            times: dict[str, list[float]] = {"botorch": [], "lbfgs": []}
            for _ in range(args.repeats):
                for method in times:
                    times[method].append(scaling.run(point, seed, method)["wall_time"])
            ratios.append(min(times["lbfgs"]) / min(times["botorch"]))
        print(f"{scaling.key(point):42s} lbfgs / botorch: median {statistics.median(ratios):.2f} "
              f"[{' '.join(f'{r:.2f}' for r in ratios)}]", flush=True)


if __name__ == "__main__":
    main()
