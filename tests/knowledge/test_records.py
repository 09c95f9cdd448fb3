"""Loading validates every record against its schema and the vocabularies; bad data files
fail with the file name and record id."""

from __future__ import annotations

import textwrap
from collections import Counter

import pytest

from evniche.knowledge import EffectRecord, KnowledgeBase, KnowledgeBaseError, vocabulary
from evniche.knowledge.base import build

GOOD = """
  - id: test-effect
    kind: effect
    source: {cell_type: blast, disease_context: AML}
    ev_class: exosome
    cargo: [miR-150]
    mode: cargo_delivery
    target: {cell_type: HSPC}
    effect: {what: c-MYB expression, direction: decrease}
    disease: AML
    status: reported
    evidence:
      seed: 000_0fd60b7714f79a13.txt
      refs: [34, 41]
      quote: AML cells secrete exosomes enriched in miR-150
"""


def _build(body: str, name: str = "test.yaml") -> KnowledgeBase:
    return build([(name, "records:" + textwrap.dedent(body))], vocabulary.get())


def test_every_record_uses_canonical_vocabulary_terms(kb: KnowledgeBase) -> None:
    voc = kb.vocabulary
    for record in kb.records.values():
        for vkind, value, path in record.vocab_refs():
            assert value in voc.terms(vkind), (record.id, path, value)


def test_a_valid_record_loads() -> None:
    kb = _build(GOOD)
    record = kb.get("test-effect")
    assert isinstance(record, EffectRecord)
    assert record.cargo == ["miR-150"] and record.effect.direction == "decrease"


@pytest.mark.parametrize(("old", "new", "message"), [
    ("cell_type: HSPC}", "cell_type: HSPX}", "target.cell_type: 'HSPX' is not a cell type"),
    ("cargo: [miR-150]", "cargo: [miRNA150]", "synonym; data files use the canonical cargo id "
                                              "'miR-150'"),
    ("direction: decrease", "direction: down", "effect.direction"),
    ("ev_class: exosome", "ev_class: exosome\n    colour: red", "colour"),
    ("seed: 000_0fd60b7714f79a13.txt", "seed: 999.txt", "evidence.seed"),
    ("status: reported", "status: retracted", "retraction"),
    ("id: test-effect", "id: Test_Effect", "id"),
    ("disease: AML", "disease: AMLL", "(close: AML"),
])
def test_invalid_records_name_file_record_and_field(old: str, new: str, message: str) -> None:
    bad = GOOD.replace(old, new)
    assert bad != GOOD
    with pytest.raises(KnowledgeBaseError) as info:
        _build(bad, "effects_bad.yaml")
    text = str(info.value)
    assert text.startswith("effects_bad.yaml: ")
    assert message in text
    record_id = "Test_Effect" if "Test_Effect" in bad else "test-effect"
    assert record_id in text


def test_duplicate_ids_and_dangling_links_are_rejected() -> None:
    with pytest.raises(KnowledgeBaseError, match="duplicate id"):
        _build(GOOD + GOOD)
    dangling = GOOD.replace("status: reported", "status: reported\n    opposite_of: [nope]")
    with pytest.raises(KnowledgeBaseError, match="opposite_of: no record 'nope'"):
        _build(dangling)


def test_quotes_are_short_and_ids_unique(kb: KnowledgeBase) -> None:
    for record in kb.records.values():
        for ev in record.evidences():
            assert 10 <= len(ev.quote) <= 200, record.id
    assert len(kb.records) == len({*kb.records})


def test_effects_are_distinct_statements(kb: KnowledgeBase) -> None:
    keys = Counter(
        (e.source.cell_type, e.source.state, e.source.disease_context, e.target.cell_type,
         e.target.state, e.effect.what, e.effect.direction, e.disease, tuple(sorted(e.cargo)),
         e.ev_class)
        for e in kb.effects.values())
    duplicates = [k for k, n in keys.items() if n > 1]
    assert not duplicates, duplicates


def test_opposite_effects_share_their_source(kb: KnowledgeBase) -> None:
    pairs = [(e, kb.get(o)) for e in kb.effects.values() for o in e.opposite_of]
    assert len(pairs) >= 5
    for effect, other in pairs:
        assert isinstance(other, EffectRecord)
        assert effect.source.cell_type == other.source.cell_type, (effect.id, other.id)
    msc_apoptosis = kb.get("leuk-msc-exmv-apoptosis-up")
    assert "cll-msc-exmv-apoptosis-down" in msc_apoptosis.opposite_of


def test_records_of_every_kind_exist(kb: KnowledgeBase) -> None:
    counts = Counter(r.kind for r in kb.records.values())
    for kind, at_least in {"effect": 80, "ev_class": 4, "marker": 10, "uptake": 8, "therapy": 10,
                           "risk": 5, "biomarker": 8, "method": 10, "database": 4,
                           "secretion": 1, "cargo_profile": 5}.items():
        assert counts[kind] >= at_least, kind


def test_ev_class_sizes_follow_the_seeds(kb: KnowledgeBase) -> None:
    def ranges(record_id: str) -> set[tuple[float | None, float]]:
        return {(s.min_nm, s.max_nm) for s in kb.get(record_id).size_ranges}

    assert {(20, 150), (50, 150), (None, 200)} <= ranges("class-exosome")
    assert {(50, 1000), (100, 1000)} <= ranges("class-microvesicle")
    assert (50, 5000) in ranges("class-apoptotic-body")
    assert (1000, 10000) in ranges("class-oncosome")
    assert {"CD63", "CD9", "HSP70", "MHC-I"} <= set(kb.get("class-exosome").markers)
    assert "phosphatidylserine" in kb.get("class-microvesicle").markers
