"""Fixtures for the knowledge-base tests: the loaded knowledge base, the seed texts, a CLI
runner.

The seeds are looked up at ``$EVNICHE_SEEDS_DIR``, else ``<repo root>/../shared/seeds``.
Tests that need them are skipped when neither exists, unless ``CI`` is set: then they fail.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evniche.knowledge import SEED_FILES, KnowledgeBase, load
from evniche.knowledge.citations import find_seeds_dir


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return load()


@pytest.fixture(scope="session")
def seed_texts() -> dict[str, str]:
    directory = find_seeds_dir(Path(__file__))
    missing = directory is None or not all((directory / s).is_file() for s in SEED_FILES)
    if missing:
        where = os.environ.get("EVNICHE_SEEDS_DIR") or "<repo root>/../shared/seeds"
        message = f"seed reviews not found at {where}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI is set: the seeds are required)")
        pytest.skip(message)
    assert directory is not None
    return {name: (directory / name).read_text(encoding="utf-8") for name in SEED_FILES}


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()
