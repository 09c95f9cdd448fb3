"""Controlled vocabularies: canonical ids other code relies on, synonyms, suggestions."""

from __future__ import annotations

import pytest

from evniche.knowledge import KnowledgeBaseError, vocabulary
from evniche.knowledge.vocabulary import KINDS, load_file

CELL_TYPES = (
    "HSC HSPC progenitor mature LSC blast leukemic_cell CML_cell CLL_cell ALL_blast T_ALL_blast "
    "MM_cell MDS_cell MPN_cell lymphoma_cell ATLL_cell MCL_cell MSC endothelial osteoblast "
    "fibroblast NK CD8_T Treg Th1 MDSC monocyte macrophage dendritic_cell mast_cell platelet "
    "embryonic_stem_cell iPSC"
).split()
CARGO = (
    "miR-150 miR-155 miR-21 miR-29 miR-1246 miR-10a miR-10b miR-125b miR-34a miR-34c-5p "
    "miR-222-3p miR-146a miR-7977 miR-17-92 miR-126 BCR-ABL1 ETV6-RUNX1 MLL-AF6 DNMT1 FLT3 NPM1 "
    "IGF1R CXCR4 PD-L1 FasL TGF-beta1 FGF2 BMP-2 HMGCR ANGPTL2 mitochondria IL-10 CTLA-4 "
    "tissue_factor VEGF MCP-1 IP-10 CXCL12 LINC00265 LINC00467 UCA1 HoxB4 Nanog Oct3/4 Rex-1 "
    "PDGFR-beta TIMP-1 TIMP-2 doxorubicin imatinib paclitaxel curcumin"
).split()
DISEASES = ["healthy", "AML", "CML", "CLL", "B-ALL", "T-ALL", "ALL", "MM", "MDS", "MPN",
            "B-cell lymphoma", "T-cell lymphoma", "ATLL", "mantle cell lymphoma", "WM", "HL",
            "solid tumor", "leukemia"]


def test_canonical_ids_other_code_uses_exist() -> None:
    assert set(CELL_TYPES) <= set(vocabulary.terms("cell_type"))
    assert set(CARGO) <= set(vocabulary.terms("cargo"))
    assert set(DISEASES) <= set(vocabulary.terms("disease"))
    assert {"exosome", "microvesicle", "apoptotic_body", "oncosome", "unspecified"} <= set(
        vocabulary.terms("vesicle_class"))
    assert set(vocabulary.terms("mode")) == {"ligand_signalling", "receptor_transfer",
                                             "cargo_delivery", "unspecified"}
    for term_id in CELL_TYPES + CARGO:
        kind = "cell_type" if term_id in CELL_TYPES else "cargo"
        assert vocabulary.resolve(kind, term_id) == term_id


def test_cargo_terms_carry_their_kind() -> None:
    expected = {"miR-150": "miRNA", "BCR-ABL1": "fusion_transcript", "ETV6-RUNX1":
                "fusion_transcript", "DNMT1": "mRNA", "UCA1": "lncRNA", "PD-L1": "protein",
                "mitochondria": "organelle", "imatinib": "drug", "HMGCR": "protein"}
    for term_id, kind in expected.items():
        assert vocabulary.term("cargo", term_id).cargo_kind == kind


@pytest.mark.parametrize(("kind", "spelling", "canonical"), [
    ("vesicle_class", "ExMV", "unspecified"), ("vesicle_class", "ExMVs", "unspecified"),
    ("vesicle_class", "EVs", "unspecified"), ("vesicle_class", "Exo", "exosome"),
    ("vesicle_class", "MV", "microvesicle"), ("vesicle_class", "ectosome", "microvesicle"),
    ("cargo", "SDF-1", "CXCL12"), ("cargo", "KL", "KITL"), ("cargo", "SCF", "KITL"),
    ("cargo", "kit ligand", "KITL"), ("cell_type", "MDCs", "MDSC"),
    ("cell_type", "myeloid-derived suppressor cells", "MDSC"), ("cargo", "TEL-AML1", "ETV6-RUNX1"),
    ("cargo", "HMG-CoA reductase", "HMGCR"), ("cargo", "angiopoietin-related protein 2", "ANGPTL2"),
    ("cargo", "TGF-β1", "TGF-beta1"), ("cargo", "TGFB1", "TGF-beta1"),
    ("cargo", "TGF- β 1", "TGF-beta1"), ("cargo", "miRNA155", "miR-155"),
    ("cargo", "oncomiRNA155", "miR-155"), ("cargo", "miRNA21", "miR-21"),
    ("cargo", "miRNA-1246", "miR-1246"), ("cargo", "miRNA222-3p", "miR-222-3p"),
    ("cargo", "miRNA7977", "miR-7977"), ("cargo", "miRNA34a", "miR-34a"),
    ("cargo", "miR-34-5p", "miR-34c-5p"), ("cell_type", "HSPCs", "HSPC"),
    ("cell_type", "MSCs", "MSC"), ("cell_type", "mesenchymal stromal cells", "MSC"),
    ("cell_type", "BM stroma", "MSC"), ("cell_type", "natural killer cells", "NK"),
    ("cell_type", "NK", "NK"), ("cell_type", "CD8+ T", "CD8_T"),
    ("cell_type", "CD8 T lymphocytes", "CD8_T"), ("cell_type", "CD8⁺T lymphocytes", "CD8_T"),
    ("cell_type", "leukemic stem cells", "LSC"), ("cell_type", "leukemia initiating cells", "LSC"),
    ("cell_type", "CSC", "LSC"), ("cell_type", "msc", "MSC"), ("disease", "pre-B ALL", "B-ALL"),
    ("disease", "adult T-cell leukemia/lymphoma", "ATLL"),
    ("disease", "MCL", "mantle cell lymphoma"),
    ("behaviour", "chemoresistance", "drug resistance"), ("marker", "PS", "phosphatidylserine"),
    ("mode", "ligand signaling", "ligand_signalling"), ("behavior", "clonogenic capacity",
                                                        "clonogenicity"),
])
def test_synonyms_resolve_to_canonical_ids(kind: str, spelling: str, canonical: str) -> None:
    assert vocabulary.resolve(kind, spelling) == canonical


def test_unknown_names_resolve_to_none_and_get_suggestions() -> None:
    assert vocabulary.resolve("cell_type", "osteoclast") is None
    assert vocabulary.resolve("cargo", "") is None
    assert vocabulary.suggest("cell_type", "MSX") == ["MSC"]
    assert "miR-150" in vocabulary.suggest("cargo", "miR-15")
    assert vocabulary.suggest("disease", "AMLL")[0] == "AML"
    with pytest.raises(ValueError, match="unknown vocabulary kind"):
        vocabulary.resolve("organ", "liver")


def test_every_kind_is_populated_and_hierarchies_resolve() -> None:
    for kind in KINDS:
        assert vocabulary.terms(kind), kind
    assert vocabulary.descendants("disease", "ALL") == {"ALL", "B-ALL", "T-ALL"}
    assert {"HSC", "progenitor"} <= vocabulary.descendants("cell_type", "HSPC")
    assert "miR-155" in vocabulary.descendants("cargo", "miRNA")
    assert "ATLL" in vocabulary.descendants("disease", "lymphoma")


def test_conflicting_spellings_are_rejected() -> None:
    text = "cell_type:\n  A: {synonyms: [shared]}\n  B: {synonyms: [Shared]}\n"
    with pytest.raises(KnowledgeBaseError, match="names both 'A' and 'B'"):
        load_file(text, "bad.yaml")
    with pytest.raises(KnowledgeBaseError, match="parent 'Z'"):
        load_file("cell_type:\n  A: {parents: [Z]}\n", "bad.yaml")
    with pytest.raises(KnowledgeBaseError, match="cargo kind"):
        load_file("cargo:\n  X: {kind: gene}\n", "bad.yaml")
