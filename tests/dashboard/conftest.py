"""Run registries for the dashboard's tests: one complete run of the healthy preset each."""

from __future__ import annotations

from pathlib import Path

import pytest


def make_registry(folder: Path) -> Path:
    """A registry in ``folder`` holding one 5-day run of the healthy preset."""
    import evniche
    from evniche.store.runs import write_run

    model = evniche.load_model("healthy")
    ds = evniche.simulate(model, days=5.0)
    write_run(ds, folder / "healthy-5d", model, 0, ["test"], 0.1, registry=folder)
    return folder


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry of this test module's own (the browser tests add runs to theirs)."""
    return make_registry(tmp_path_factory.mktemp("registry"))


def make_results(folder: Path) -> tuple[Path, Path]:
    """A cohort folder (biomarkers.csv as evniche cohort writes it) and a calibration
    folder (posterior.json + posterior.parquet) made by hand."""
    import json

    import pandas as pd

    cohort = folder / "cohort"
    cohort.mkdir(parents=True)
    pd.DataFrame([{"biomarker": "qPCR miR-155", "auc": 0.9, "ci_low": 0.85, "ci_high": 0.95,
                   "cutoff": 1e8, "sensitivity": 0.8, "specificity": 0.9,
                   "n_for_80pct_power": 12, "patients": 200, "controls": 100}]
                 ).to_csv(cohort / "biomarkers.csv", index=False)
    posterior = folder / "posterior"
    posterior.mkdir(parents=True)
    (posterior / "posterior.json").write_text(json.dumps(
        {"model": "aml", "digest": "x", "parameters": {
            "parameters.msc_mv_rate": {"unit": "EV/cell/h"}}}), encoding="utf-8")
    pd.DataFrame({"parameters.msc_mv_rate": [1.0, 2.0, 3.0, 4.0, 5.0],
                  "weight": [0.2] * 5}).to_parquet(posterior / "posterior.parquet")
    return cohort, posterior


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_results(tmp_path_factory.mktemp("results"))
