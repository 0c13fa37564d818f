"""mkdocs hook: the benchmark results pages and figures (``benchmarks/results/``) become the
site's ``results/`` pages, so the findings and the tables they link to are published as they
are committed, not copied by hand."""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File

RESULTS = Path(__file__).resolve().parent / "benchmarks" / "results"


def on_files(files, config):
    for path in sorted(RESULTS.rglob("*")):
        if path.suffix in (".md", ".png"):
            uri = "results/" + path.relative_to(RESULTS).as_posix()
            files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files
