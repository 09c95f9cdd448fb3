"""Shared fixtures of the engine tests."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from evniche.spec.loader import load_model

TINY = Path(__file__).parents[1] / "spec" / "tiny.yaml"


def _tiny(**values: float):
    """The tiny model (MSC → exosomes with miR-150 → HSC) with parameter values changed."""
    data = yaml.safe_load(TINY.read_text(encoding="utf-8"))
    for name, value in values.items():
        data["parameters"][name]["value"] = value
    return load_model(copy.deepcopy(data))


@pytest.fixture
def tiny():
    """``tiny(**values)``: the tiny model with some parameter values changed."""
    return _tiny
