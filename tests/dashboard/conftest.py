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
