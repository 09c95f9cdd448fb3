"""PhysiCell's rules CSV files (the "CBHG" grammar), read row by row.

Column layouts, as PhysiCell's own parser reads them (core/PhysiCell_rules.cpp)::

    v1 (9 columns): cell type, signal, direction, behavior, base value,
                    max response value, half-max, Hill power, applies to dead
    v2, v3 (8):     cell type, signal, direction, behavior,
                    max response value, half-max, Hill power, applies to dead

(v0, the prototype with 10 columns, is refused as PhysiCell 1.14 refuses it.) Lines whose
first cell starts with ``//`` are comments; a row that is not comma-separated is tried with
tabs, as PhysiCell does. Rates in the rules are per minute, as PhysiCell's are.

A row that cannot be read is not an error of the whole file: it is returned as a
:class:`Problem` with its line and the reason, so the caller reports it (PhysiCell itself
skips such rows with a warning).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError

COLUMNS = {
    1: ("cell type", "signal", "direction", "behavior", "base value", "max response value",
        "half-max", "Hill power", "applies to dead"),
    3: ("cell type", "signal", "direction", "behavior", "max response value", "half-max",
        "Hill power", "applies to dead"),
}
#: the versions a ruleset element may declare, by their column count
VERSION_COLUMNS = {1: 9, 2: 8, 3: 8}


@dataclass(frozen=True)
class RuleRow:
    """One rule as the file gives it (PhysiCell's units: rates per minute)."""

    line: int
    text: str
    cell_type: str
    signal: str
    direction: str
    behavior: str
    saturation: float  # the max response value
    half_max: float
    hill_power: float
    applies_to_dead: bool
    base: float | None = None  # v1 only: the base value the row states


@dataclass(frozen=True)
class Problem:
    """A row that is not a rule evniche takes, and why."""

    file: str
    line: int
    text: str
    reason: str

    def __str__(self) -> str:
        if self.line <= 0:  # a settings element or a whole file, not a row
            return f"{self.file} ({self.text}): {self.reason}"
        return f"{self.file}, line {self.line} ({self.text}): {self.reason}"


def _flag(text: str) -> bool | None:
    """PhysiCell's "applies to dead" cell: 0/1 (as a number) or true/false; None if neither."""
    t = text.strip().lower()
    if t in ("true", "t", "yes"):
        return True
    if t in ("false", "f", "no"):
        return False
    try:
        number = float(t)
    except ValueError:
        return None
    return number != 0 if math.isfinite(number) else None


def _split(line: str, columns: int) -> list[str]:
    row = next(csv.reader([line]), [])
    if len(row) != columns:
        tabbed = next(csv.reader([line], delimiter="\t"), [])
        if len(tabbed) == columns:
            row = tabbed
    return [c.strip() for c in row]


def read(path: Path, version: float | None = None) -> tuple[list[RuleRow], list[Problem]]:
    """The rules of the file at ``path`` and the rows refused with their reason.

    ``version``: the ruleset's declared version (from the settings XML); None: told by the
    column count of the first rule (9: v1, 8: v2/v3)."""
    try:
        content = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise FileNotFoundError(f"PhysiCell rules file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read the PhysiCell rules file: {exc}", source=str(path)
                         ) from None
    if version is not None and version < 1.0:
        raise ModelError("PhysiCell rules version < 1 (the 10-column prototype) is not "
                         "supported, as by PhysiCell 1.14 itself; convert it to v3",
                         source=str(path))
    columns = VERSION_COLUMNS.get(int(version)) if version is not None else None
    if version is not None and columns is None:
        columns = 8  # PhysiCell reads every version >= 3 as v3
    rows: list[RuleRow] = []
    problems: list[Problem] = []
    name = Path(path).name
    for lineno, line in enumerate(content.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith(("//", "#")):
            continue
        cells = _split(line, columns or 8)
        if columns is None:  # told by the first rule
            cells9 = _split(line, 9)
            columns = 9 if len(cells9) == 9 else 8
            cells = cells9 if columns == 9 else cells
            if len(cells) == 10:
                raise ModelError("this is a 10-column (v0, prototype) PhysiCell rules file, "
                                 "refused as by PhysiCell 1.14 itself; convert it to v3",
                                 f"line {lineno}", str(path))
        text = line.strip()

        def problem(reason: str, lineno=lineno, text=text) -> None:
            problems.append(Problem(name, lineno, text, reason))

        layout = COLUMNS[1 if columns == 9 else 3]
        if len(cells) != columns:
            problem(f"expected {columns} columns ({', '.join(layout)}), got {len(cells)}")
            continue
        if any(not c for c in cells):
            problem(f"column {cells.index('') + 1} ({layout[cells.index('')]}) is empty")
            continue
        cell_type, sig, direction, beh = cells[:4]
        if direction not in ("increases", "decreases"):
            problem(f"column 3 (direction) must be 'increases' or 'decreases', got "
                    f"'{direction}'")
            continue
        numbers = []
        first = 4 if columns == 8 else 4
        for col in range(first, columns - 1):
            try:
                value = float(cells[col])
            except ValueError:
                value = float("nan")
            if not math.isfinite(value):
                problem(f"column {col + 1} ({layout[col]}) must be a finite number, got "
                        f"'{cells[col]}'")
                break
            numbers.append(value)
        else:
            dead = _flag(cells[-1])
            if dead is None:
                problem(f"column {columns} (applies to dead) must be 0 or 1 (or true/false), "
                        f"got '{cells[-1]}'")
                continue
            base = numbers.pop(0) if columns == 9 else None
            saturation, half_max, hill = numbers
            if half_max <= 0:
                problem(f"the half-max must be > 0, got {half_max:g}")
                continue
            if hill <= 0:
                problem(f"the Hill power must be > 0, got {hill:g}")
                continue
            rows.append(RuleRow(lineno, text, cell_type, sig, direction, beh, saturation,
                                half_max, hill, dead, base))
    return rows, problems
