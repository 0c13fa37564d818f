"""The README's and the documentation pages' snippets run as written."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs").glob("*.md"))


def snippets(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), re.S)


def section(path: Path, title: str) -> list[str]:
    text = path.read_text()
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end if end > 0 else None], re.S)


def run(snippet: str, name: str, namespace: dict | None = None) -> dict:
    """Runs a snippet with the global RNGs restored afterwards (snippets may seed them, as
    BoTorch users do, and the hosts may draw from them)."""
    for module in re.findall(r"^from (\w+)", snippet, re.M):
        pytest.importorskip(module)
    namespace = dict(namespace or {})
    logging.disable(logging.WARNING)
    numpy_state = np.random.get_state()
    try:
        with torch.random.fork_rng():
            exec(compile(snippet, name, "exec"), namespace)
    finally:
        logging.disable(logging.NOTSET)
        np.random.set_state(numpy_state)
    return namespace


def swap_names() -> dict:
    """What the swap snippet assumes: a fitted ``model``, its ``train_Y`` and ``bounds``."""
    from tests.helpers import gp_logei

    model = gp_logei(d=3, n=15).model
    return {"model": model, "train_Y": model.train_targets.unsqueeze(-1),
            "bounds": torch.tensor([[0.0] * 3, [1.0] * 3], dtype=torch.float64)}


def test_every_page_has_a_runnable_snippet_or_none_is_expected():
    with_code = {p.name for p in PAGES if snippets(p)}
    assert {"botorch.md", "methods.md", "mixed.md", "bo.md", "ax.md", "optuna.md",
            "sklearn.md"} <= with_code


@pytest.mark.parametrize("page", ["botorch.md", "methods.md", "mixed.md", "bo.md", "ax.md",
                                  "optuna.md", "sklearn.md"])
def test_page_snippets_run(page):
    path = ROOT / "docs" / page
    given = swap_names() if page == "botorch.md" else {}
    for snippet in snippets(path):
        namespace = run(snippet, page, given)
        if "candidate" in namespace:
            assert torch.isfinite(namespace["value"]).all()
        if page == "mixed.md":
            candidate = namespace["candidate"]
            assert candidate.shape == (1, 3)
            assert float(candidate[0, 1]) in range(6) and float(candidate[0, 2]) in (0, 1, 2)
        if page == "methods.md":
            from acqopt.testing import MixedBumps

            result = namespace["result"]
            assert float(result.acq_value) == pytest.approx(MixedBumps.max_value, abs=1e-3)
        if page == "bo.md":
            history = namespace["history"]
            assert len(history) == 10 and history.best_params["solver"] == "adam"
        if page == "sklearn.md":
            assert namespace["search"].best_score_ > 0.9
        if page == "optuna.md":
            study = namespace["study"]
            assert len(study.trials) in (12, 15) and study.best_value < 0.5
        if page == "ax.md":
            trials = namespace["client"]._experiment.trials.values()
            assert len(trials) == 10
            assert all(t.arm.parameters["x1"] + t.arm.parameters["x2"] <= 1.0 + 1e-9
                       for t in trials)


def test_readme_snippets_run():
    """The swap (given a fitted model), the mixed-space call (given a mixed acquisition) and
    the BO loop (given an objective)."""
    from acqopt.testing import MixedBumps

    readme = ROOT / "README.md"
    (swap,) = section(readme, "Swap one line")
    namespace = run(swap, "README.md", swap_names())
    assert namespace["candidate"].shape == (1, 3) and torch.isfinite(namespace["value"])
    (mixed,) = section(readme, "Mixed spaces")
    import acqopt

    namespace = run(mixed, "README.md", {"acqopt": acqopt, "acq": MixedBumps(),
                                         "bounds": MixedBumps.bounds.double()})
    assert namespace["candidate"].reshape(-1)[1:3].tolist() == [4.0, 1.0]
    (loop,) = section(readme, "Bayesian optimisation")
    assert "n_init=10, n_iter=30" in loop
    loop = loop.replace("n_init=10, n_iter=30", "n_init=4, n_iter=2")
    namespace = run(loop, "README.md", {
        "objective": lambda p: (p["lr"] - 0.1) ** 2 + p["depth"] + (p["solver"] == "sgd")})
    assert len(namespace["history"]) == 6


def test_readme_is_short_and_links_exist():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 120
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), target
