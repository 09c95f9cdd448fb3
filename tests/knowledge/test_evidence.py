"""Every record cites the seed text faithfully: quotes, reference numbers, authors, years;
the retracted study and the hypotheses are flagged."""

from __future__ import annotations

from evniche.knowledge import SEED_FILES, KnowledgeBase
from evniche.knowledge.citations import (
    cited_numbers,
    contains_quote,
    first_author_and_year,
    reference_list,
    split_references,
)

SEED_000, SEED_003 = SEED_FILES
RETRACTION_DOI = "10.1172/JCI197214"


def _all_evidence(kb: KnowledgeBase):
    for record in kb.records.values():
        for ev in record.evidences():
            yield record, ev


def test_seed_000_reference_list_is_complete(seed_texts: dict[str, str]) -> None:
    refs = reference_list(seed_texts[SEED_000])
    assert sorted(refs) == list(range(1, 71))
    assert refs[43].startswith("Imamura M.") and "allogeneic" in refs[43]
    assert refs[44].startswith("Haque S")


def test_every_quote_occurs_in_its_seed(kb: KnowledgeBase, seed_texts: dict[str, str]) -> None:
    missing = [(r.id, ev.quote) for r, ev in _all_evidence(kb)
               if not contains_quote(seed_texts[ev.seed], ev.quote)]
    assert not missing, f"{len(missing)} quotes not in their seed, e.g. {missing[:3]}"


def test_every_reference_number_is_printed_in_its_seed(kb: KnowledgeBase,
                                                       seed_texts: dict[str, str]) -> None:
    cited = {s: cited_numbers(split_references(t)[0]) for s, t in seed_texts.items()}
    listed = reference_list(seed_texts[SEED_000])
    bad = []
    for record, ev in _all_evidence(kb):
        for ref in ev.refs:
            if ref not in cited[ev.seed]:
                bad.append((record.id, ev.seed, ref, "not cited in the text"))
            if ev.seed == SEED_000 and ref not in listed:
                bad.append((record.id, ev.seed, ref, "not in the reference list"))
    assert not bad, bad[:5]


def test_first_author_and_year_match_the_reference_list(kb: KnowledgeBase,
                                                        seed_texts: dict[str, str]) -> None:
    listed = reference_list(seed_texts[SEED_000])
    checked = 0
    for record, ev in _all_evidence(kb):
        if ev.seed == SEED_000 and ev.refs:
            author, year = first_author_and_year(listed[ev.refs[0]])
            assert (ev.first_author, ev.year) == (author, year), (record.id, ev.refs[0])
            checked += 1
        elif ev.seed == SEED_003 and ev.first_author:
            # seed 003 has no reference list: the author must be named in its text
            assert f"{ev.first_author} et al" in seed_texts[SEED_003], record.id
            assert ev.year is None, record.id
    assert checked > 100


def test_the_retracted_study_is_flagged_everywhere(kb: KnowledgeBase) -> None:
    citing_123 = {r.id for r, ev in _all_evidence(kb) if ev.seed == SEED_003 and 123 in ev.refs}
    assert citing_123, "the VPS33B study (seed 003 ref [123]) must be recorded"
    for record_id in citing_123:
        record = kb.get(record_id)
        assert record.status == "retracted"
        assert record.retraction is not None and record.retraction.doi == RETRACTION_DOI
        assert record.retraction.date.isoformat() == "2025-08-15"
    retracted = {r.id for r in kb.records.values() if r.status == "retracted"}
    assert retracted == citing_123


def test_hypotheses_are_not_presented_as_findings(kb: KnowledgeBase) -> None:
    donor = [r for r, ev in _all_evidence(kb) if ev.seed == SEED_000 and 43 in ev.refs]
    assert donor and all(r.status == "hypothesis" for r in donor)
    initiation = kb.get("leuk-exmv-hspc-malignant-transformation-hypothesis")
    assert initiation.status == "hypothesis" and "more direct evidence" in initiation.evidence.quote


def test_both_seeds_contribute_effects(kb: KnowledgeBase) -> None:
    seeds = {e.evidence.seed for e in kb.effects.values()}
    assert seeds == set(SEED_FILES)
    for seed in SEED_FILES:
        assert sum(e.evidence.seed == seed for e in kb.effects.values()) >= 40
