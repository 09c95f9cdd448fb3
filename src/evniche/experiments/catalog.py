"""The scenarios: each review finding the presets cover, as a treatment-vs-control check.

Arms differ only by catalog interventions (``secretion_block`` is the experimental control
"these EVs absent") or by the disease model; readouts come from :mod:`evniche.readouts`
or are plain sums over the Trajectory. Knowledge-base ids name the review statements.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from ..errors import EvnicheError
from ..readouts.clinical import NORMAL_STEM_PROGENITOR
from .scenarios import Anchor, Arm, Readout, Scenario

# ----------------------------------------------------------------------------- readouts


def _cells(names: Sequence[str] | None = None, lineage: str | None = None):
    """Cells summed over ``names`` (or the leukemic types), cells over time."""
    def series(ds: xr.Dataset, net) -> xr.DataArray:
        if lineage == "leukemic":
            wanted = [n for n in str(ds.attrs.get("leukemic", "")).split(";") if n]
        else:
            wanted = [n for n in names or () if n in ds["cell_type"].values]
        if not wanted:
            raise EvnicheError(f"the model has none of the cell types {names or lineage}")
        return ds["cells"].sel(cell_type=wanted).sum("cell_type")
    return series


def _normal_hspc(ds: xr.Dataset, net) -> xr.DataArray:
    from ..readouts.clinical import normal_stem_progenitor

    return normal_stem_progenitor(ds).sum("cell_type")


def _blast_percent(ds: xr.Dataset, net) -> xr.DataArray:
    from ..readouts.clinical import blast_percent

    return blast_percent(ds)


def _blast_percent_at_recovery(ds: xr.Dataset, net, days: float = 60.0) -> float:
    """Lowest marrow blast % within ``days`` of diagnosis at samples where a complete
    remission could be judged: from the nadir of normal output after the first therapy on
    (clinical.remission_search_start), with counts recovered (normal output >= 25 % of day
    0, clinical.COUNT_RECOVERY). Blasts below 5 % in aplasia, before the counts have come
    back, are not a remission. Without a therapy: the lowest blast % in the window; with a
    therapy but no count recovery in the window: the blast % on its last day."""
    from ..readouts.clinical import (
        COUNT_RECOVERY,
        blast_percent,
        diagnosis_day,
        normal_blood_output,
        remission_search_start,
    )

    dx = diagnosis_day(ds)
    if dx is None:
        raise EvnicheError("the run has no diagnosis day to read remission from")
    t = np.asarray(ds["time"].values, dtype=float)
    pct = np.asarray(blast_percent(ds).values, dtype=float)
    inside = (t >= dx) & (t <= dx + days)
    start = remission_search_start(ds)
    if start is None:
        return float(np.min(pct[inside]))
    out = np.asarray(normal_blood_output(ds).values, dtype=float)
    judged = inside & (t >= start) & (out >= COUNT_RECOVERY * out[0])
    if judged.any():
        return float(np.min(pct[judged]))
    return float(pct[inside][-1])


def _takeover_day(ds: xr.Dataset, net) -> float:
    """Day blasts reach 20 % of marrow cells (the run's last day if they never do)."""
    from ..readouts.clinical import takeover_day

    day = takeover_day(ds)
    return float(ds["time"].values[-1]) if day is None else day


def _selection(variable: str, dim: str, key: str, what: str):
    """The series ``ds[variable]`` at ``dim == key``; a clear error if the model lacks it."""
    def series(ds: xr.Dataset, net) -> xr.DataArray:
        if key not in ds[dim].values:
            raise EvnicheError(f"the model has no {what} '{key}'")
        return ds[variable].sel({dim: key})
    return series


def _cytokine(name: str):
    return _selection("cytokines", "cytokine", name, "cytokine")


def _state(key: str):
    return _selection("states", "state", key, "cell state")


def _count_weighted_behavior(behavior: str, cell_types: Sequence[str]):
    """A behavior averaged over cell types weighted by their counts, Σ N·b / Σ N (the
    behavior's unit): e.g. the killing capacity of all CD8 T cells, marrow and blood."""
    def series(ds: xr.Dataset, net) -> xr.DataArray:
        keys = [f"{c}.{behavior}" for c in cell_types]
        missing = [k for k in keys if k not in ds["behavior"].values]
        if missing:
            raise EvnicheError(f"the model has no behavior {', '.join(repr(k) for k in missing)}")
        n = ds["cells"].sel(cell_type=list(cell_types))
        b = ds["behaviors"].sel(behavior=keys).rename(behavior="cell_type")
        b = b.assign_coords(cell_type=list(cell_types))
        return (n * b).sum("cell_type") / n.sum("cell_type")
    return series


def _delivered(source: str, targets: Sequence[str]):
    """EVs per day delivered from ``source`` to ``targets`` (communication)."""
    def series(ds: xr.Dataset, net) -> xr.DataArray:
        if source not in ds["source"].values:
            raise EvnicheError(f"no EV pool of the model comes from '{source}'")
        present = [t for t in targets if t in ds["target"].values]
        return ds["communication"].sel(source=source, target=present).sum("target")
    return series


def _plasma_evs(ds: xr.Dataset, net) -> xr.DataArray:
    from ..readouts.liquid_biopsy import plasma_concentration

    return plasma_concentration(ds).sum("vesicle_class")


def _plasma_cargo(cargo: str):
    def series(ds: xr.Dataset, net) -> xr.DataArray:
        from ..readouts.liquid_biopsy import cargo_per_ml

        copies = {p.name: {c: net.params[v] for c, v in p.cargo.items()} for p in net.pools}
        table = cargo_per_ml(ds, copies)
        if cargo not in table["cargo"].values:
            return xr.zeros_like(table.isel(cargo=0, drop=True))
        return table.sel(cargo=cargo)
    return series


def _tissue_factor(ds: xr.Dataset, net) -> xr.DataArray:
    from ..readouts.coagulation import tissue_factor_peak_per_ml

    return tissue_factor_peak_per_ml(ds)


def _diagnosis(ds: xr.Dataset, net) -> float | None:
    """Day the run meets the diagnosis criteria (blasts >= 20 % of marrow cells, the WHO
    threshold, with cytopenia for AML: :func:`evniche.readouts.clinical.diagnosis_day`):
    when a patient presents and is treated."""
    from ..readouts.clinical import diagnosis_day

    return diagnosis_day(ds)


def _log10_bcr_abl(ds: xr.Dataset, net) -> xr.DataArray:
    """log10 of BCR-ABL1/ABL1 in blood (% IS): 2 at the IS baseline, -1 at MMR."""
    import numpy as np

    from ..readouts.molecular import bcr_abl_is

    level = bcr_abl_is(ds)
    return np.log10(level.where(level > 0))  # none yet (day 0 of a seeded clone): NaN


def _cml_untreated_state(ds: xr.Dataset, net) -> float | None:
    """Day BCR-ABL1 in blood first reaches 95 % IS in the untreated run: Ph+ > 95 %, the
    level of 'no cytogenetic response' (ELN 2013), i.e. the untreated chronic phase in
    which patients are diagnosed and start imatinib."""
    from ..readouts.molecular import bcr_abl_is, first_day_at_or_above

    return first_day_at_or_above(bcr_abl_is(ds), 95.0)


HSPC = NORMAL_STEM_PROGENITOR
#: the observation records that state a "more plasma EVs than healthy" finding's published
#: result (Scenario.observations), reviewed by hand: both quote the one sentence of Caivano
#: 2014 (ASH abstract, Blood 124(21):2917; ev_parameters.md B, the finding's reference) —
#: "MVs count was significantly higher in patients with CLL, ..., MM, AML and CML (median
#: values ...) compared to healthy c[ontrols]": the direction and the disease's median.
#: ALL and ATLL are not in that sentence (the T-ALL record cites another source, seed 000
#: [34-38]), so they have none.
PLASMA_EV_RECORDS = {
    "aml": ("PAT-1-AML-above-healthy", "PAT-1-AML-serum-MV"),
    "cml": ("PAT-1-CML-above-healthy", "PAT-1-CML-serum-MV"),
    "cll": ("PAT-1-CLL-above-healthy", "PAT-1-CLL-serum-MV"),
    "mm": ("PAT-1-MM-above-healthy", "PAT-1-MM-serum-MV"),
}
#: why a scenario is a finding (Scenario.reason)
FINDING_LAB = "a published experiment (cells, xenografts or patient samples) the model must " \
    "reproduce"
FINDING_PATIENTS = "published measurements in patients' plasma the model must reproduce"
FINDING_TKI = "the published BCR-ABL1 course of patients on imatinib the model must reproduce"
#: CD8 T cells of the marrow and of blood (the presets' two CD8 types)
CD8 = ("CD8_T", "CD8_T_blood")

#: the side-effect readout shown with every scenario: peak plasma tissue factor on EVs
#: (seed 000 [68]: hypercoagulation risk; knowledge base risk-hypercoagulation)
COAGULATION = Readout("peak plasma EV tissue factor", "copies/mL", _tissue_factor,
                      summary="max")


def diagnosis(model: str, days: float = 365.0) -> Anchor:
    """The diagnosis anchor: the untreated model's day of diagnosis (20 % marrow blasts,
    with cytopenia for AML)."""
    return Anchor("diagnosis", Arm(model), _diagnosis,
                  f"untreated '{model}': blasts reach 20 % of marrow cells (with cytopenia "
                  "for AML: the patient presents)", days)


def _remission_sample_day(ds: xr.Dataset, net) -> float | None:
    """Day of the first output sample in complete remission (CR with count recovery,
    ELN: :func:`evniche.readouts.clinical.remission_sample`), the day a marrow and a blood
    count document it; None without a CR. ``evniche run`` starts ``NAME@remission`` there
    too (:func:`evniche.compile.interventions.resolve_remission`)."""
    from ..readouts.clinical import remission_sample

    k = remission_sample(ds)
    return None if k is None else float(ds["time"].values[k])


def remission(model: str, therapy: dict, days: str = "diagnosis+60") -> Anchor:
    """The remission anchor: the first sample in CR of ``model`` treated with ``therapy``
    (its start may name ``diagnosis``, which must be the scenario's anchor before this
    one), run for ``days``. Not required: a patient without remission is not
    consolidated, so interventions at ``remission`` are left out of a refractory run."""
    return Anchor("remission", Arm(model, (therapy,)), _remission_sample_day,
                  f"'{model}' with {therapy['name']}@{therapy['start']}: first sample in "
                  "complete remission (blasts < 5 % with count recovery)", days,
                  required=False)

# ----------------------------------------------------------------------------- scenarios


def _no_leukemic_evs() -> dict:
    return {"name": "secretion_block", "start": 0, "options": {"targets": ["leukemic"]}}


def scenarios(models: Sequence[str] | None = None) -> list[Scenario]:
    """The catalog. ``models``: the disease presets to use for the biomarker findings."""
    aml = "aml"
    no_aml_evs = Arm(aml, (_no_leukemic_evs(),))
    days = 365.0
    dx = diagnosis(aml, days)
    induction = {"name": "induction_7_3", "start": "diagnosis"}
    risk = COAGULATION
    out: list[Scenario] = [
        Scenario(
            "aml-evs-lower-hspc-clonogenic",
            "AML exosomes lower the clonogenic output of normal HSPCs (miR-150/miR-155 → "
            "c-MYB)", ("seed 000 [34, 41]", "seed 003 [120, 121]"),
            Arm(aml), no_aml_evs,
            Readout("normal HSC+MPP+progenitors at diagnosis", "cells", _cells(HSPC),
                    summary="at", window=("diagnosis", "diagnosis")),
            expected=-1, margin=0.01, days=days, group="AML", anchors=(dx,), risk=risk,
            reason=FINDING_LAB),
    ]
    for name, direction in (("CXCL12", -1), ("KITL", -1), ("IL-7", -1), ("DKK1", +1)):
        out.append(Scenario(
            f"aml-evs-{'raise' if direction > 0 else 'lower'}-{name.lower()}",
            f"AML EVs {'raise' if direction > 0 else 'lower'} {name} made by MSCs",
            ("seed 000 [27, 29, 45]", "research: ev_parameters.md I (Kumar 2018)"),
            Arm(aml), no_aml_evs,
            Readout(f"marrow {name}", "1/mL", _cytokine(name)),
            expected=direction, margin=0.01, days=days, group="AML", risk=risk,
            reason=FINDING_LAB))
    # chemotherapy (cytarabine 7+3-like course) at diagnosis; read the leukemic nadir
    chemo = {"name": "cytarabine", "start": "diagnosis"}
    after_chemo = ("diagnosis", "diagnosis+28")
    out += [
        Scenario(
            "reprogrammed-msc-evs-protect-blasts",
            "EVs of reprogrammed (AML) MSCs protect blasts from chemotherapy",
            ("seed 003 [113]", "seed 000 [59]"),
            Arm(aml, (chemo,)),
            Arm(aml, (chemo, {"name": "secretion_block", "start": "diagnosis",
                              "options": {"pools": ["MSC.exosome.reprogrammed"]}})),
            Readout("leukemic cells at the nadir after cytarabine", "cells",
                    _cells(lineage="leukemic"), summary="min", window=after_chemo),
            expected=+1, margin=0.01, days="diagnosis+28", group="AML", anchors=(dx,),
            risk=risk, reason=FINDING_LAB),
        Scenario(
            "resistance-transfer-by-evs",
            "EVs carry drug resistance from resistant to sensitive AML cells",
            ("seed 003 [109, 110]",),
            Arm(aml, (chemo,)),
            Arm(aml, (chemo, {"name": "secretion_block", "start": 0,
                              "options": {"pools": ["blast_resistant.exosome"]}})),
            Readout("sensitive blasts at the nadir after cytarabine", "cells",
                    _cells(["blast"]), summary="min", window=after_chemo),
            expected=+1, margin=0.01, days="diagnosis+28", group="AML", anchors=(dx,),
            risk=risk, reason=FINDING_LAB),
        # the trade-off of seed 000: one systemic secretion inhibitor, both sides shown
        Scenario(
            "secretion-inhibition-slows-takeover",
            "A secretion inhibitor (nSMase2) slows leukemic take-over…",
            ("seed 000 [8, 17]", "research: ev_parameters.md I (Kumar 2018 Rab27a)"),
            Arm(aml, ({"name": "nsmase2_inhibitor", "start": 0},)), Arm(aml),
            Readout("day of take-over (20 % blasts; run end if never)", "day",
                    _blast_percent, scalar=_takeover_day,
                    series_label="marrow blasts (%); the verdict reads the day they pass 20 %"),
            expected=+1, margin=0.01, days=days, group="AML", risk=risk, kind="proposal",
            reason="a secretion inhibitor as therapy is the reviews' hypothesis (the Rab27a "
                   "data are a genetic knock-down in mice, not a drug in patients)"),
        Scenario(
            "secretion-inhibition-removes-hspc-support",
            "…but the same inhibitor also removes the supportive MSC EVs of normal HSPCs",
            ("seed 000 [8, 17]",),
            Arm(aml, ({"name": "nsmase2_inhibitor", "start": 0},)), Arm(aml),
            Readout("MSC EVs delivered to HSPCs, mean of days 0-60", "EV/day",
                    _delivered("MSC", HSPC), summary="mean", window=(0.0, 60.0)),
            expected=-1, margin=0.05, days=days, group="AML", risk=risk, kind="proposal",
            reason="the side effect of the proposed secretion-inhibitor therapy: a "
                   "hypothesis of the reviews, not a measured result"),
        # CD8 T cells of blood meet the plasma EVs the column removes (ref 55: circulating
        # PD-L1+ EVs); those of the marrow meet marrow EVs, ~1 % of which come back from
        # blood. Blood CD8 T cells have no blasts to kill in the model (blasts live in the
        # marrow and no T cells traffic), so their kill:blast is a killing capacity. The
        # readout is the killing capacity of all CD8 T cells, count-weighted over marrow
        # and blood, time-averaged over the course (5 sessions in 10 days).
        Scenario(
            "pdl1-ev-removal-restores-cd8-killing",
            "Removing PD-L1+ EVs from blood (antibody-column plasmapheresis) restores CD8 "
            "T-cell killing (capacity of marrow and blood CD8 T cells; blood ones kill no "
            "blasts in the model, which moves no T cells into the marrow)",
            ("seed 000 [54, 55]",),
            Arm(aml, ({"name": "plasmapheresis", "start": "diagnosis",
                       "options": {"marker": "PD-L1"}},)), Arm(aml),
            Readout("CD8 killing capacity (kill:blast, count-weighted over marrow and "
                    "blood CD8 T cells), mean over the course", "1/h",
                    _count_weighted_behavior("kill:blast", CD8), summary="mean",
                    window=("diagnosis", "diagnosis+10")),
            expected=+1, margin=0.01, days="diagnosis+14", group="AML", anchors=(dx,),
            risk=risk, output_hours=1.0, kind="proposal",
            reason="PD-L1+ EV removal by an antibody column is proposed (seed 000 [54, 55]), "
                   "not tested in patients; answered under the uncertainty of the blood EV "
                   "half-life (preset range 2-20 min, mouse data)",
            uncertain=("ev_blood_half_life",)),
        Scenario(
            "heparin-reduces-msc-reprogramming",
            "Heparin blocks EV uptake by MSCs and so reduces their reprogramming by AML EVs",
            ("seed 000 [8, 17]",),
            Arm(aml, ({"name": "heparin", "start": 0, "options": {"targets": ["MSC"]}},)),
            Arm(aml),
            Readout("MSC reprogrammed share, mean over the run", "1",
                    _state("MSC.reprogrammed"), summary="mean"),
            expected=-1, margin=0.05, days=days, group="AML", risk=risk, kind="proposal",
            reason="an uptake inhibitor (heparin) as a therapy against MSC reprogramming is "
                   "the reviews' hypothesis"),
        Scenario(
            "induction-7-3-reaches-remission",
            "7+3 induction (cytarabine infusion 7 days, daunorubicin days 1-3) and high-dose "
            "cytarabine consolidation (from the documented remission) bring marrow blasts "
            "below 5 % (complete remission in "
            "72-82 % of adults under 60: Lee 2011, Blood 118:3832; Burnett 2015, Blood "
            "125:3878; Ohtake 2011, Blood 117:2358). AML is diagnosed when it presents with "
            "cytopenia, at a median of 56-83 % marrow blasts (Slovak 2000); from the model's "
            "72 % at presentation (inside that range), < 5 % is a fall of >= 93 % against "
            "the untreated course",
            ("docs/sources/clinical-course.md O1-O3",),
            Arm(aml, (induction, {"name": "consolidation", "start": "remission"})),
            Arm(aml),
            Readout("lowest marrow blast % with count recovery within 60 days of diagnosis",
                    "%", _blast_percent, scalar=_blast_percent_at_recovery),
            expected=-1, margin=0.93, days="diagnosis+60", group="AML",
            anchors=(dx, remission(aml, induction)),
            risk=risk, reason="complete-remission rates of published trials (Lee 2011, "
                              "Burnett 2015, Ohtake 2011)"),
        Scenario(
            "remission-after-7-3-lasts-six-months",
            "After 7+3 and high-dose cytarabine consolidation the median patient in complete "
            "remission is still in remission 6 months later: median relapse-free survival 15 "
            "months (Kern 2003, Blood 101:64, n = 449); 5-year relapse-free survival 41 % "
            "(Ohtake 2011, Blood 117:2358); relapse after 3 years in CR is rare (1.1 % of CR1 "
            "patients, Leuk Res 2014;38:901). So marrow blasts 210 days after diagnosis (CR "
            "about a month after diagnosis, O6, + 6 months) stay below 5 %, a fall of >= 93 % "
            "against the untreated course from the model's 71 % at presentation",
            ("docs/sources/clinical-course.md O3, O5, O9",),
            Arm(aml, (induction, {"name": "consolidation", "start": "remission"})),
            Arm(aml),
            Readout("marrow blast % 210 days after diagnosis", "%", _blast_percent,
                    summary="at", window=("diagnosis+210", "diagnosis+210")),
            expected=-1, margin=0.93, days="diagnosis+210", group="AML",
            anchors=(dx, remission(aml, induction)),
            risk=risk, reason="relapse-free survival of published trials (Kern 2003, "
                              "Ohtake 2011)"),
        Scenario(
            "mir34c-il3-evs-reduce-lsc",
            "Engineered MSC-EVs with miR-34c-5p and Lamp2b-IL3/HCELL targeting reduce LSCs",
            ("seed 000 [64]",),
            Arm(aml, ({"name": "mir34c_ev", "start": "diagnosis"},)), Arm(aml),
            Readout("LSCs after the course (3 doses, 3 days apart)", "cells", _cells(["LSC"]),
                    summary="at", window=("diagnosis+9", "diagnosis+9")),
            expected=-1, margin=0.05, days="diagnosis+14", group="AML", anchors=(dx,),
            risk=risk, output_hours=1.0, kind="proposal",
            reason="engineered EVs as a therapy: a preclinical design the reviews propose, "
                   "not a result in patients"),
    ]
    # MDS, MPN and ATLL: each preset's EV mechanism against the same model with those EVs
    # blocked (the published experiments' EV-inhibition controls)
    out += [
        Scenario(
            "mds-evs-lower-msc-kitl",
            "MDS CD34+ EVs (miR-7977 → PCBP1) lower the MSCs' stem cell factor; blocking the "
            "EVs reverts it", ("seed 003 [150]", "doi:10.3324/haematol.2015.134932"),
            Arm("mds"), Arm("mds", (_no_leukemic_evs(),)),
            Readout("marrow KITL (stem cell factor)", "1/mL", _cytokine("KITL")),
            expected=-1, margin=0.05, days=days, group="MDS", risk=risk,
            reason=FINDING_LAB),
        Scenario(
            "mpn-msc-mir155-evs-raise-cfu-g",
            "EVs of MPN MSCs, rich in miR-155, raise granulocyte colony formation of "
            "neoplastic CD34+ cells", ("seed 003 [127]",),
            Arm("mpn"), Arm("mpn", ({"name": "secretion_block", "start": 0,
                                     "options": {"pools": ["MSC.exosome.mir155"]}},)),
            Readout("JAK2 V617F progenitors (CFU-G)", "cells", _cells(["JAK2_progenitor"])),
            expected=+1, margin=0.05, days=days, group="MPN", risk=risk,
            reason=FINDING_LAB),
        Scenario(
            "atll-exosomes-make-msc-proliferate",
            "ATL exosomes (miR-21, miR-155) make BM MSCs proliferate",
            ("seed 003 [149]", "doi:10.1186/s12977-016-0307-4"),
            Arm("atll"), Arm("atll", (_no_leukemic_evs(),)),
            Readout("MSCs", "cells", _cells(["MSC"])),
            expected=+1, margin=0.05, days=days, group="ATLL", risk=risk,
            reason=FINDING_LAB),
    ]
    # CML under imatinib 400 mg daily from diagnosis: BCR-ABL1 in blood against the published
    # biphasic decline (docs/sources/cml.md). The readout is log10 % IS, 2 in the untreated
    # arm, so the effect is -(log reduction)/2; both ends of each window come from data.
    cml_dx = Anchor("diagnosis", Arm("cml"), _cml_untreated_state,
                    "untreated 'cml': BCR-ABL1 in blood reaches 95 % IS (Ph+ > 95 %)", 730.0)
    imatinib = Arm("cml", ({"name": "imatinib_400mg", "start": "diagnosis"},))
    log_bcr_abl = "log10 BCR-ABL1/ABL1 in blood"
    out += [
        Scenario(
            "cml-imatinib-first-slope",
            "Imatinib 400 mg daily lowers BCR-ABL1 in blood along the first slope of the "
            "biphasic decline: -0.052 +- 0.018 per day (mean +- SD; Tang 2011, Blood "
            "118:1622; Michor 2005, Nature 435:1267). Over the first 91 days, mean +- 2 SD "
            "(0.016-0.088 per day) is a 0.63-3.48 log reduction: effect -0.32 ... -1.74",
            ("docs/sources/cml.md T1",),
            imatinib, Arm("cml"),
            Readout(f"{log_bcr_abl} 3 months after diagnosis", "log10 % IS",
                    _log10_bcr_abl, summary="at", window=("diagnosis+91", "diagnosis+91")),
            expected=-1, margin=0.32, most=1.74, days="diagnosis+730", group="CML",
            anchors=(cml_dx,), risk=risk, reason=FINDING_TKI),
        Scenario(
            "cml-imatinib-12-month-response",
            "After 12 months of imatinib BCR-ABL1 is at most 1 % IS (ELN 2013: > 1 % is "
            "failure; Baccarani 2013, Blood 122:872) and still measurable (a good assay sees "
            "a 4.5-log reduction, 0.0032 % IS; the biphasic decline keeps transcripts "
            "detectable for years): a 2-4.5 log reduction, effect -1.0 ... -2.25",
            ("docs/sources/cml.md E1, I2",),
            imatinib, Arm("cml"),
            Readout(f"{log_bcr_abl} 12 months after diagnosis", "log10 % IS",
                    _log10_bcr_abl, summary="at", window=("diagnosis+365", "diagnosis+365")),
            expected=-1, margin=1.0, most=2.25, days="diagnosis+730", group="CML",
            anchors=(cml_dx,), risk=risk, reason=FINDING_TKI),
    ]
    for model in models or ("aml", "cml", "cll", "all", "mm", "atll"):
        out += [
            Scenario(
                f"{model}-more-plasma-evs",
                f"Patients with {model.upper()} have more plasma EVs than healthy people",
                ("seed 000 [24-27]", "research: ev_parameters.md B (Caivano 2014)"),
                Arm(model), Arm("healthy"),
                Readout("plasma EVs", "EV/mL", _plasma_evs),
                expected=+1, margin=0.05, days=days, group="biomarker", risk=risk,
                reason=FINDING_PATIENTS, observations=PLASMA_EV_RECORDS.get(model, ())),
            Scenario(
                f"{model}-more-plasma-mir155",
                f"Patients with {model.upper()} have more EV-borne miR-155 in plasma",
                ("seed 000 [24-27, 34, 41]",),
                Arm(model), Arm("healthy"),
                Readout("plasma EV miR-155", "copies/mL", _plasma_cargo("miR-155")),
                expected=+1, margin=0.05, days=days, group="biomarker", risk=risk,
                reason=FINDING_PATIENTS),
        ]
    return out


def available_presets() -> list[str]:
    from importlib import resources

    root = resources.files("evniche") / "presets"
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def catalog() -> dict[str, Scenario]:
    """All scenarios whose models exist as presets, by name."""
    present = set(available_presets())
    diseases = [m for m in ("aml", "cml", "cll", "all", "mm", "atll") if m in present]
    return {s.name: s for s in scenarios(diseases)
            if s.treatment.model in present and s.control.model in present}


def select(names: Sequence[str]) -> list[Scenario]:
    """Scenarios by name (all when empty); unknown names raise with the list."""
    cat = catalog()
    if not names:
        return list(cat.values())
    unknown = [n for n in names if n not in cat]
    if unknown:
        import difflib

        hints = {n: difflib.get_close_matches(n, list(cat), n=2) for n in unknown}
        raise EvnicheError("unknown scenario(s) " + ", ".join(
            f"'{n}'" + (f" (did you mean {', '.join(h)}?)" if h else "")
            for n, h in hints.items()) + f"; the catalog has {', '.join(cat)}")
    return [cat[n] for n in names]



# ----------------------------------------------------------------------------- cohorts
def cohort_findings() -> list:
    """Published biomarker AUCs (calibration_targets.md, ROC rows) and relapse-free
    survival after remission checked by a virtual cohort of their model (``evniche cohort
    MODEL``, ``--monitoring`` for the latter; :mod:`evniche.cohorts.findings`)."""
    from ..cohorts.findings import CohortFinding, RelapseFreeFinding

    return [
        RelapseFreeFinding(
            "rfs_aml_kern2003", "aml", "median relapse-free survival after CR of intensive "
            "induction and consolidation is 15 months", 15 * 30.44,
            "docs/sources/clinical-course.md O5 (Kern 2003, Blood 101:64, AMLCG 1992, "
            "n = 449: 'median RFS 15 months', TAD/HAM double induction)"),
        CohortFinding(
            "roc1_aml_ev_mir10b", "aml", "serum EV-miR-10b tells AML from healthy",
            ("qpcr_miR-10b",), 0.875, None,
            "calibration_targets.md ROC-1 (95 AML, 80 controls; 'an area under the curve of "
            "0.875')", proxy=("qpcr_miR-155",)),
        CohortFinding(
            "roc8_aml_rna_band", "aml", "RNA biomarkers tell AML from healthy with a pooled "
            "AUC of 0.90 (meta-analysis, not EV-specific)", ("qpcr_*",), 0.90, (0.87, 0.93),
            "calibration_targets.md ROC-8 (19 studies, 1588 AML, 529 controls)"),
        CohortFinding(
            "roc2_mm_exosomal_panel", "mm", "a plasma exosomal miRNA panel tells MM from "
            "healthy", ("panel",), 0.94, None,
            "calibration_targets.md ROC-2 (Tian et al. 2025, doi:10.3389/fonc.2025.1659708)"),
        CohortFinding(
            "roc9_mm_circulating_mirna", "mm", "circulating miRNAs tell MM from healthy "
            "(meta-analysis, not EV-specific)", ("qpcr_*",), 0.87, (0.81, 0.89),
            "calibration_targets.md ROC-9 (627 MM, 314 controls)"),
        CohortFinding(
            "roc3_mm_marker_mvs_mrd", "mm", "tumour-marker-positive MVs by flow separate MM "
            "MRD strata below 10^-4", ("flow_marker_evs",), 0.9248, (0.8960, 0.9536),
            "calibration_targets.md ROC-3 (Ps+CD41a-BCMA+GPRC5D+ MVs)", stratum="mrd"),
    ]
