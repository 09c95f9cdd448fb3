"""``evniche import physicell``: a PhysiCell project as an evniche model file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..errors import EvnicheError


def _settings_file(path: Path) -> Path:
    """The settings XML of a PhysiCell project given as the file, its folder or the
    folder holding ``config/``."""
    if path.is_file():
        return path
    for candidate in (path / "PhysiCell_settings.xml", path / "config" / "PhysiCell_settings.xml"):
        if candidate.is_file():
            return candidate
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    raise EvnicheError(f"{path}: no PhysiCell_settings.xml in this folder or its config/")


def import_(
    what: Annotated[str, typer.Argument(help="Format: physicell.")],
    project: Annotated[Path, typer.Argument(
        help="A PhysiCell settings XML, or the project folder holding it (or config/ with "
             "it). Its rules and initial cells files are found as PhysiCell finds them.")],
    out: Annotated[Path | None, typer.Option(
        help="Model YAML file to write (default: stdout).")] = None,
) -> None:
    """Import a PhysiCell project (settings XML + rules CSV v1/v2/v3 + cells.csv) as an
    evniche model for the spatial engine. Every rule row or setting that evniche cannot
    represent is listed on stderr with its place and the reason (see docs/interop.md)."""
    if what != "physicell":
        raise EvnicheError(f"unknown import format '{what}'; available: physicell")
    import yaml

    from ..interop.physicell_import import import_project
    from ..spec.loader import load_model

    imported = import_project(_settings_file(project))
    load_model(imported.model)  # the model it makes is valid, or this says why
    header = "".join(f"# refused: {item}\n" for item in imported.refused)
    text = (f"# evniche model imported from the PhysiCell project {project}\n"
            f"# {imported.summary()}\n{header}"
            + yaml.safe_dump(imported.model, sort_keys=False, allow_unicode=True))
    for item in imported.refused:
        sys.stderr.write(f"refused: {item}\n")
    sys.stderr.write(f"imported: {imported.summary()}\n")
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        sys.stderr.write(f"wrote {out}\n")


def register(app: typer.Typer) -> None:
    app.command("import")(import_)
