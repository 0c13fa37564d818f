"""acqopt benchmarks.

Examples:
  python -m benchmarks run landscapes --profile quick
  python -m benchmarks run landscapes --profile full --methods botorch lbfgs cma-lbfgs --seeds 5
  python -m benchmarks run global --profile medium --workers 2
  python -m benchmarks run bo --profile quick
  python -m benchmarks run bo --profile mixed        # mixed spaces against BoTorch's mixed path
  python -m benchmarks run scaling --profile quick --device cuda   # the cost curves on a GPU
  python -m benchmarks run mixed --profile quick     # mixed-space acquisition landscapes
  python -m benchmarks run global --profile medium --only global/rosenbrock   # one table
  python -m benchmarks run global --profile quick --executor ray --workers 2   # local Ray
  python -m benchmarks run landscapes --executor ray --address auto            # a cluster
  python -m benchmarks report
"""

from __future__ import annotations

import argparse
import inspect
import shlex
import sys
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def main(argv: list[str] | None = None) -> int:
    from benchmarks.suites import SUITES

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0],
        epilog=__doc__.split("\n", 2)[2], formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a suite (resumes: completed runs are skipped)")
    run.add_argument("suite", choices=sorted(SUITES))
    run.add_argument("--profile", default="quick",
                     help="smoke: seconds; quick: < 5 min; medium (global): 1e4 evaluations; "
                     "a suite may have its own (bo: mixed)")
    run.add_argument("--methods", nargs="+", help="method names ('botorch' for BoTorch itself)")
    run.add_argument("--seeds", type=int, help="seeds (folds) per problem; the profile's if unset")
    run.add_argument("--only", help="run only the tasks whose key contains this text "
                     "(e.g. 'global/rosenbrock', 'bo/branin/')")
    run.add_argument("--executor", choices=["local", "ray"], default="local")
    run.add_argument("--address", help="Ray cluster address (with --executor ray)")
    run.add_argument("--workers", type=int, default=1, help="worker processes (local), or CPUs of a local Ray instance "
                     "(--executor ray without --address)")
    run.add_argument("--threads", type=int, help="torch threads per worker (default: the "
                     "CPUs shared among the workers; 1 when other runs share the machine)")
    run.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    run.add_argument("--device", default="cpu", help="torch device of the model and data, "
                     "for the suites that take one (scaling), e.g. cuda")
    run.add_argument("--no-progress", action="store_true")
    rep = sub.add_parser("report", help="write markdown tables and figures from the records")
    rep.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    if args.command == "run":
        if args.address and args.executor != "ray":
            parser.error("--address is for --executor ray")
        if args.workers < 1:
            parser.error(f"--workers must be a positive integer, got {args.workers}")
        from benchmarks.runner import run_tasks

        profiles = sorted(SUITES[args.suite].PROFILES)
        if args.profile not in profiles:
            parser.error(f"--profile: suite {args.suite!r} has the profiles {profiles}, "
                         f"not {args.profile!r}")

        for spec in args.methods or []:  # a bad option or import path fails before any run
            try:
                check_spec(spec.partition("@")[0])
            except ValueError as e:
                parser.error(f"--methods: {e}")

        extra = {}
        if args.device != "cpu":
            if "device" not in inspect.signature(SUITES[args.suite].tasks).parameters:
                parser.error(f"--device: suite {args.suite!r} runs on the CPU only; the "
                             "scaling suite takes a device")
            extra["device"] = args.device
        tasks = SUITES[args.suite].tasks(args.profile, args.methods, args.seeds, **extra)
        if args.only:
            tasks = [t for t in tasks if args.only in t.key]
        path = args.out / f"{args.suite}-{args.profile}.jsonl"
        # The exact command, stored in every record and listed on the results page. --out and
        # --no-progress do not change what runs, so they are left out.
        argv = sys.argv[1:] if argv is None else argv
        shown = [a for i, a in enumerate(argv) if a != "--no-progress"
                 and a != "--out" and (i == 0 or argv[i - 1] != "--out")]
        n = run_tasks(tasks, path, workers=args.workers, executor=args.executor,
                      address=args.address, progress=not args.no_progress,
                      command="python -m benchmarks " + shlex.join(shown), threads=args.threads)
        print(f"{n} run(s) done, {len(tasks) - n} already in {path}")
    else:
        print(write_pages(args.out))
    return 0


def check_spec(spec: str) -> None:
    """Builds a variant (``name:field=value,...``) or a researcher's import path once, so a
    misspelt option is a ValueError naming it; other names are the suites' own to check."""
    from benchmarks import methods as specs

    if ":" in spec and specs.is_method(spec):
        try:
            specs.resolve(spec)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{spec!r}: {e}") from None


def write_pages(out: Path) -> str:
    """Writes ``<suite>-<profile>.md`` beside each records file under ``out``; returns the
    text."""
    from benchmarks.report import provenance
    from benchmarks.store import read
    from benchmarks.suites import SUITES

    texts = []
    for path in sorted(out.glob("*.jsonl")):
        suite, _, profile = path.stem.partition("-")  # other files (not <suite>-<profile>) are skipped
        if not profile or suite not in SUITES:
            continue
        records = read(path)
        if not records:
            continue
        text = SUITES[suite].report(records, path, profile) + provenance(records, path)
        path.with_suffix(".md").write_text(text)
        texts.append(text)
    return "\n".join(texts) or f"no records under {out}"


if __name__ == "__main__":
    sys.exit(main())
