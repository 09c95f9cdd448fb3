"""Coverage of the reviews and queries by synonyms, hierarchy and unknown terms."""

from __future__ import annotations

import pytest

from evniche.errors import EvnicheError
from evniche.knowledge import KnowledgeBase, UnknownRecordError, UnknownTermError


def test_at_least_80_effects_covering_every_disease(kb: KnowledgeBase) -> None:
    assert len(kb.effects) >= 80
    for disease in ("healthy", "AML", "CML", "CLL", "ALL", "MM", "MDS", "MPN", "lymphoma",
                    "B-ALL", "T-ALL", "ATLL", "mantle cell lymphoma", "B-cell lymphoma",
                    "T-cell lymphoma"):
        assert kb.query(disease=disease), disease


def test_key_effects_of_the_reviews_are_recorded(kb: KnowledgeBase) -> None:
    def has(**kw: str) -> bool:
        what = kw.pop("what")
        return any(e.effect.what == what for e in kb.query(**kw))

    assert has(source="blast", target="HSPC", cargo="miR-150", disease="AML",
               what="CXCR4 expression")
    assert has(source="blast", target="HSPC", cargo="miR-155", what="c-MYB expression")
    assert has(target="MSC", disease="AML", what="CXCL12 secretion")
    assert has(target="MSC", disease="AML", what="KITL secretion")
    assert has(target="MSC", disease="AML", what="IL-7 secretion")
    assert has(target="MSC", disease="AML", what="DKK1 expression")
    assert has(target="NK", what="NKG2D expression")
    assert has(source="platelet", target="CLL_cell", cargo="mitochondria", what="OXPHOS")
    assert has(source="MSC", target="Th1", cargo="miR-222-3p", what="Th1/Th2 ratio")
    assert has(source="CML_cell", target="MSC", what="IL-8 secretion")
    assert has(source="MM_cell", target="MSC", cargo="miR-146a", what="cytokine secretion")
    assert has(source="T_ALL_blast", cargo="miR-17-92", what="proliferation")


def test_synonyms_return_the_same_as_canonical_names(kb: KnowledgeBase) -> None:
    assert kb.query(target="MSCs") == kb.query(target="MSC") != []
    assert kb.query(cargo="SDF-1") == kb.query(cargo="CXCL12") != []
    assert kb.query(source="leukemia initiating cells") == kb.query(source="LSC") != []
    assert kb.query(disease="pre-B ALL") == kb.query(disease="B-ALL") != []
    assert kb.query(cargo="miRNA155", target="HSPCs") == kb.query(cargo="miR-155",
                                                                   target="HSPC") != []


def test_filters_include_subtypes_unless_exact(kb: KnowledgeBase) -> None:
    broad = {e.disease for e in kb.query(disease="ALL")}
    assert {"ALL", "B-ALL", "T-ALL"} <= broad
    assert {e.disease for e in kb.query(disease="ALL", exact=True)} == {"ALL"}
    hspc = {e.target.cell_type for e in kb.query(target="HSPC")}
    assert {"HSPC", "HSC", "progenitor"} <= hspc
    mirna = kb.query(cargo="miRNA")
    assert any("miR-150" in e.cargo for e in mirna)


def test_unknown_terms_raise_with_suggestions(kb: KnowledgeBase) -> None:
    with pytest.raises(UnknownTermError) as info:
        kb.query(target="MSX")
    assert isinstance(info.value, EvnicheError)
    assert "MSC" in str(info.value) and info.value.suggestions[0] == "MSC"
    with pytest.raises(UnknownTermError, match="miR-150"):
        kb.query(cargo="miR-15O")


def test_get_unknown_id_lists_close_ids(kb: KnowledgeBase) -> None:
    with pytest.raises(KeyError) as info:
        kb.get("aml-exo-mir150-cxcr4")
    assert isinstance(info.value, UnknownRecordError) and isinstance(info.value, EvnicheError)
    assert "aml-exo-mir150-hspc-cxcr4-down" in str(info.value)
