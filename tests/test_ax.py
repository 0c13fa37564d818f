"""acqopt.integrations.ax inside an Ax Client loop (skipped without ax-platform)."""

from __future__ import annotations

import logging
import warnings

import pytest

ax = pytest.importorskip("ax")


@pytest.mark.parametrize("method", ["lbfgs", "cma-lbfgs"])
def test_ax_client_loop_is_feasible_and_maximised_by_acqopt(method, monkeypatch):
    from ax.api.client import Client
    from ax.api.configs import RangeParameterConfig

    import acqopt.api
    from acqopt.integrations.ax import generation_strategy

    used = []
    original = acqopt.api.get_optimizer
    monkeypatch.setattr(acqopt.api, "get_optimizer",
                        lambda name, **options: used.append(name) or original(name, **options))
    logging.disable(logging.INFO)
    warnings.filterwarnings("ignore")
    try:
        client = Client(random_seed=0)
        client.configure_experiment(
            parameters=[RangeParameterConfig(name=n, parameter_type="float", bounds=(0.0, 1.0))
                        for n in ("x1", "x2")],
            parameter_constraints=["x1 + x2 <= 1.0"],
        )
        client.configure_optimization(objective="-f")
        client.set_generation_strategy(generation_strategy(method, initial_trials=5))
        points = []
        for _ in range(10):
            for index, p in client.get_next_trials(max_trials=1).items():
                points.append((p["x1"], p["x2"]))
                client.complete_trial(trial_index=index,
                                      raw_data={"f": (p["x1"] - 0.3) ** 2 + (p["x2"] - 0.6) ** 2})
    finally:
        logging.disable(logging.NOTSET)
    assert len(points) == 10 and all(x1 + x2 <= 1.0 + 1e-9 for x1, x2 in points)
    assert used.count(method) == 1 + 5  # at construction, then every BO trial
    best = min((x1 - 0.3) ** 2 + (x2 - 0.6) ** 2 for x1, x2 in points)
    assert best < 0.01


def test_method_none_keeps_ax_own_maximiser():
    from acqopt.integrations.ax import generation_strategy

    gs = generation_strategy(None, initial_trials=3)
    spec = gs._nodes[1].generator_specs[0]
    assert "acquisition_class" not in spec.generator_kwargs
    assert "acquisition_class" in generation_strategy("lbfgs")._nodes[1].generator_specs[0] \
        .generator_kwargs
    with pytest.raises(ValueError, match="need an acqopt method"):
        generation_strategy(None, budget=100)
