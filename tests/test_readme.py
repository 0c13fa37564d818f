"""The README's plug-in snippets run as written."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pytest
import torch

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
SECTION = README[README.index("## Plug-ins"):README.index("\n## ", README.index("## Plug-ins") + 1)]
SNIPPETS = re.findall(r"```python\n(.*?)```", SECTION, re.S)


@pytest.mark.parametrize("snippet", SNIPPETS, ids=["ax", "optuna", "sklearn"])
def test_plugin_snippet_runs(snippet):
    for module in re.findall(r"^from (\w+)", snippet, re.M):
        pytest.importorskip(module)
    logging.disable(logging.WARNING)
    numpy_state = np.random.get_state()
    try:  # the snippets seed nothing, so the hosts and acqopt may use the global RNGs
        with torch.random.fork_rng():
            namespace: dict = {}
            exec(compile(snippet, "README.md", "exec"), namespace)
    finally:
        logging.disable(logging.NOTSET)
        np.random.set_state(numpy_state)
    if "search" in namespace:
        assert namespace["search"].best_score_ > 0.9
    if "study" in namespace:
        assert len(namespace["study"].trials) == 15 and namespace["study"].best_value < 0.5
    if "client" in namespace:
        trials = namespace["client"]._experiment.trials.values()
        assert len(trials) == 10
        assert all(t.arm.parameters["x1"] + t.arm.parameters["x2"] <= 1.0 + 1e-9 for t in trials)


def test_mixed_spaces_snippet_runs():
    section = README[README.index("## Mixed spaces"):README.index("\n## ", README.index(
        "## Mixed spaces") + 1)]
    (snippet,) = re.findall(r"```python\n(.*?)```", section, re.S)
    namespace: dict = {}
    with torch.random.fork_rng():  # fit_gpytorch_mll draws from the global RNG
        exec(compile(snippet, "README.md", "exec"), namespace)
    candidate = namespace["candidate"]
    assert candidate.shape == (1, 3) and torch.isfinite(namespace["value"])
    assert float(candidate[0, 1]) in range(6) and float(candidate[0, 2]) in (0.0, 1.0, 2.0)


def test_the_swap_snippet_runs_on_a_fitted_model():
    """The README's first snippet, given the ``model``, ``train_Y`` and ``bounds`` it assumes."""
    from conftest import gp_logei

    section = README[README.index("## Swap one line"):README.index("\n## ", README.index(
        "## Swap one line") + 1)]
    snippet = re.findall(r"```python\n(.*?)```", section, re.S)[0]
    acq = gp_logei(d=3, n=15)
    model = acq.model
    namespace = {"model": model, "train_Y": model.train_targets.unsqueeze(-1),
                 "bounds": torch.tensor([[0.0] * 3, [1.0] * 3], dtype=torch.float64)}
    with torch.random.fork_rng():  # the snippet seeds the global RNG, as BoTorch users do
        exec(compile(snippet, "README.md", "exec"), namespace)
    assert namespace["candidate"].shape == (1, 3) and torch.isfinite(namespace["value"])
