"""Check records against the text of the seed reviews: quotes, cited numbers, references.

Pure functions on the seed text, so the checks work on any copy of the seeds:

- :func:`contains_quote`: the quote occurs in the text once whitespace is collapsed; a
  word hyphenated across a line break matches with or without its hyphen;
- :func:`cited_numbers`: every reference number printed in brackets (``[152]``,
  ``[34, 41]``, ranges ``[24–27]`` count for each number inside);
- :func:`reference_list`: the numbered reference list at the end of a review (seed 000),
  where entries are numbered ``44.`` or listed as ``- `` bullets that continue the count;
- :func:`find_seeds_dir`: where the seeds are (``$EVNICHE_SEEDS_DIR``, else
  ``<repo>/../shared/seeds``).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

_BRACKETS = re.compile(r"\[([0-9][0-9,\s\-–—]*)\]")
_RANGE = re.compile(r"^(\d+)\s*[-–—]\s*(\d+)$")


def collapse(text: str) -> str:
    """Whitespace runs (line breaks included) become one space; ends stripped."""
    return " ".join(text.split())


@lru_cache(maxsize=8)
def _variants(text: str) -> tuple[str, ...]:
    joined = re.sub(r"-[ \t]*\n\s*", "-", text)  # "self-\nrenewal" -> "self-renewal"
    dehyphen = re.sub(r"-[ \t]*\n\s*", "", text)  # "mech-\nanism" -> "mechanism"
    return collapse(text), collapse(joined), collapse(dehyphen)


def contains_quote(text: str, quote: str) -> bool:
    """Whether ``quote`` occurs in ``text`` after whitespace is collapsed.

    Line-break hyphenation is tolerated: a word broken as ``mech-`` / ``anism`` matches
    ``mechanism`` and one broken as ``BM-`` / ``AML`` matches ``BM-AML``. A quote that
    spans both kinds is compared with hyphens ignored on both sides.
    """
    wanted = collapse(quote)
    if not wanted:
        return False
    variants = _variants(text)
    if any(wanted in variant for variant in variants):
        return True
    return wanted.replace("-", "") in variants[2].replace("-", "")


def _expand(group: str) -> set[int]:
    out: set[int] = set()
    for part in group.split(","):
        part = part.strip()
        if not part:
            continue
        match = _RANGE.match(part)
        if match:
            lo, hi = int(match.group(1)), int(match.group(2))
            if lo <= hi and hi - lo < 200:
                out.update(range(lo, hi + 1))
        elif part.isdigit():
            out.add(int(part))
    return out


def cited_numbers(text: str) -> set[int]:
    """Reference numbers printed in brackets anywhere in ``text``."""
    out: set[int] = set()
    for match in _BRACKETS.finditer(text):
        out |= _expand(match.group(1))
    return out


def split_references(text: str) -> tuple[str, str]:
    """(body, reference list) split at a line reading ``REFERENCES``; list empty if none."""
    match = re.search(r"^\s*REFERENCES\s*$", text, flags=re.MULTILINE)
    if not match:
        return text, ""
    rest = text[match.end():]
    end = re.search(r"^\s*(ACKNOWLEDGEMENTS|ACKNOWLEDGMENTS)\s*$", rest, flags=re.MULTILINE)
    return text[: match.start()], rest[: end.start()] if end else rest


def reference_list(text: str) -> dict[int, str]:
    """Numbered entries of the reference list: ``{number: entry text}``.

    Entries written ``44. Author ...`` carry their number; ``- Author ...`` bullets take
    the next number; a bullet starting with a lowercase letter continues the previous
    entry (a page break inside an entry).
    """
    _, refs = split_references(text)
    entries: dict[int, str] = {}
    number = 0
    for line in refs.splitlines():
        line = line.strip()
        if not line:
            continue
        numbered = re.match(r"^(\d+)\.\s+(.*)$", line)
        if numbered:
            number = int(numbered.group(1))
            entries[number] = numbered.group(2)
        elif line.startswith("- ") and not line[2:3].islower():
            number += 1
            entries[number] = line[2:]
        elif number:
            entries[number] += " " + line.lstrip("- ")
    return entries


def first_author_and_year(entry: str) -> tuple[str, int | None]:
    """Surname of the first author and the year of a reference-list entry."""
    first = entry.split(",")[0].split(".")[0].strip()
    words = first.split()
    while len(words) > 1 and words[-1].isupper() and len(words[-1]) <= 3:
        words.pop()  # initials
    year = re.search(r"\b((?:19|20)\d\d)\s*;", entry)
    return " ".join(words), int(year.group(1)) if year else None


def find_seeds_dir(start: Path | None = None) -> Path | None:
    """``$EVNICHE_SEEDS_DIR`` if set, else ``<repo root>/../shared/seeds`` if it exists."""
    env = os.environ.get("EVNICHE_SEEDS_DIR")
    if env:
        path = Path(env)
        return path if path.is_dir() else None
    here = (start or Path(__file__)).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file():
            candidate = parent.parent / "shared" / "seeds"
            return candidate if candidate.is_dir() else None
    return None
