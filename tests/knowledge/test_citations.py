"""Unit tests of the seed-text helpers the evidence checks rely on."""

from __future__ import annotations

from pathlib import Path

from evniche.knowledge.citations import (
    cited_numbers,
    contains_quote,
    find_seeds_dir,
    first_author_and_year,
    reference_list,
)

TEXT = """Some claim [3]. Another [34, 41] and a range [24–27] or [1-3],
a split list [62,
118, 119] and a mech-
anism of BM-
AML-MVs that induc-
ing things. Figure (1) and t(12:21) are not citations.

REFERENCES

- Hopkin K. Extracellular vesicles garner interest. *PNAS*. 2016;113:9126–28.
- Imamura M. Hypothesis: can transfer of primary neoplasm-derived vesicles

- hematologic neoplasms after transplantation? *Cytotherap.* 2022;24:1169–80.
3. Van Morckhoven D, Dubois N. Extracellular vesicles. *Front Immunol.* 2023;14:1265969.

ACKNOWLEDGEMENTS
"""


def test_cited_numbers_expand_lists_and_ranges() -> None:
    numbers = cited_numbers(TEXT.split("REFERENCES")[0])
    assert {3, 34, 41, 24, 25, 26, 27, 1, 2, 62, 118, 119} == numbers
    assert 12 not in numbers and 21 not in numbers  # t(12:21) is no citation


def test_contains_quote_collapses_whitespace_and_line_break_hyphens() -> None:
    assert contains_quote(TEXT, "a split list [62, 118, 119]")
    assert contains_quote(TEXT, "a mechanism of BM-AML-MVs")
    assert contains_quote(TEXT, "BM-AML-MVs that inducing things")
    assert not contains_quote(TEXT, "a mechanism of BM-AML-MV that")
    assert not contains_quote(TEXT, "a claim that is not there")
    assert not contains_quote(TEXT, "   ")


def test_reference_list_numbers_bullets_and_joins_continuations() -> None:
    refs = reference_list(TEXT)
    assert sorted(refs) == [1, 2, 3]
    assert refs[1].startswith("Hopkin K.")
    assert "hematologic neoplasms after transplantation" in refs[2]
    assert first_author_and_year(refs[1]) == ("Hopkin", 2016)
    assert first_author_and_year(refs[2]) == ("Imamura", 2022)
    assert first_author_and_year(refs[3]) == ("Van Morckhoven", 2023)


def test_find_seeds_dir_prefers_the_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("EVNICHE_SEEDS_DIR", str(tmp_path))
    assert find_seeds_dir() == tmp_path
    monkeypatch.setenv("EVNICHE_SEEDS_DIR", str(tmp_path / "missing"))
    assert find_seeds_dir() is None
