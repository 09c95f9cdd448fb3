"""Shared fixtures of the spec tests: the tiny valid model, as a file and as a mapping."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent
TINY = HERE / "tiny.yaml"
MALFORMED = HERE / "malformed"


@pytest.fixture(scope="session")
def tiny_path() -> Path:
    """The tiny valid model: two cell types, one vesicle class, one cargo, one rule."""
    return TINY


@pytest.fixture
def tiny_data() -> dict:
    """A fresh (mutable) mapping of the tiny model."""
    return yaml.safe_load(TINY.read_text(encoding="utf-8"))
