"""The scenarios: each review finding the presets cover, as a treatment-vs-control check.

Arms differ only by catalog interventions (``secretion_block`` is the experimental control
"these EVs absent") or by the disease model; readouts come from :mod:`evniche.readouts`
or are plain sums over the Trajectory. Knowledge-base ids name the review statements.
"""

from __future__ import annotations

from collections.abc import Sequence

import xarray as xr

from ..errors import EvnicheError
from .scenarios import Arm, Readout, Scenario

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


def _takeover_day(ds: xr.Dataset, net) -> float:
    """Day blasts reach 20 % of marrow cells (the run's last day if they never do)."""
    from ..readouts.clinical import takeover_day

    day = takeover_day(ds)
    return float(ds["time"].values[-1]) if day is None else day


def _cytokine(name: str):
    def series(ds: xr.Dataset, net) -> xr.DataArray:
        if name not in ds["cytokine"].values:
            raise EvnicheError(f"the model has no cytokine '{name}'")
        return ds["cytokines"].sel(cytokine=name)
    return series


def _state(key: str):
    def series(ds: xr.Dataset, net) -> xr.DataArray:
        if key not in ds["state"].values:
            raise EvnicheError(f"the model has no cell state '{key}'")
        return ds["states"].sel(state=key)
    return series


def _behavior(key: str):
    def series(ds: xr.Dataset, net) -> xr.DataArray:
        if key not in ds["behavior"].values:
            raise EvnicheError(f"the model has no behavior '{key}'")
        return ds["behaviors"].sel(behavior=key)
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


HSPC = ("HSC", "MPP", "progenitor")

# ----------------------------------------------------------------------------- scenarios


def _no_leukemic_evs() -> dict:
    return {"name": "secretion_block", "start": 0, "options": {"targets": ["leukemic"]}}


def scenarios(models: Sequence[str] | None = None) -> list[Scenario]:
    """The catalog. ``models``: the disease presets to use for the biomarker findings."""
    aml = "aml"
    no_aml_evs = Arm(aml, (_no_leukemic_evs(),))
    days = 365.0
    out: list[Scenario] = [
        Scenario(
            "aml-evs-lower-hspc-clonogenic",
            "AML exosomes lower the clonogenic output of normal HSPCs (miR-150/miR-155 → "
            "c-MYB)", ("seed 000 [34, 41]", "seed 003 [120, 121]"),
            Arm(aml), no_aml_evs,
            Readout("normal HSC+MPP+progenitors", "cells", _cells(HSPC)),
            expected=-1, margin=0.01, days=days, group="AML"),
    ]
    for name, direction in (("CXCL12", -1), ("KITL", -1), ("IL-7", -1), ("DKK1", +1)):
        out.append(Scenario(
            f"aml-evs-{'raise' if direction > 0 else 'lower'}-{name.lower()}",
            f"AML EVs {'raise' if direction > 0 else 'lower'} {name} made by MSCs",
            ("seed 000 [27, 29, 45]", "research: ev_parameters.md I (Kumar 2018)"),
            Arm(aml), no_aml_evs,
            Readout(f"marrow {name}", "1/mL", _cytokine(name)),
            expected=direction, margin=0.01, days=days, group="AML"))
    chemo = {"name": "cytarabine", "start": days - 20}
    out += [
        Scenario(
            "reprogrammed-msc-evs-protect-blasts",
            "EVs of reprogrammed (AML) MSCs protect blasts from chemotherapy",
            ("seed 003 [113]", "seed 000 [59]"),
            Arm(aml, (chemo,)),
            Arm(aml, (chemo, {"name": "secretion_block", "start": 0,
                              "options": {"pools": ["MSC.exosome.reprogrammed"]}})),
            Readout("leukemic cells after cytarabine", "cells", _cells(lineage="leukemic")),
            expected=+1, margin=0.01, days=days, group="AML"),
        Scenario(
            "resistance-transfer-by-evs",
            "EVs carry drug resistance from resistant to sensitive AML cells",
            ("seed 003 [109, 110]",),
            Arm(aml, (chemo,)),
            Arm(aml, (chemo, {"name": "secretion_block", "start": 0,
                              "options": {"targets": ["blast_resistant"]}})),
            Readout("sensitive blasts after cytarabine", "cells", _cells(["blast"])),
            expected=+1, margin=0.01, days=days, group="AML"),
        Scenario(
            "secretion-inhibition-slows-takeover",
            "Inhibiting EV secretion of AML cells (RAB27 silencing) slows leukemic take-over",
            ("seed 000 [8, 17]", "research: ev_parameters.md I (Kumar 2018 Rab27a)"),
            Arm(aml, ({"name": "rab27_silencing", "start": 0,
                       "options": {"targets": ["leukemic"]}},)), Arm(aml),
            Readout("day of take-over (20 % blasts; run end if never)", "day",
                    _blast_percent, scalar=_takeover_day),
            expected=+1, margin=0.01, days=days, group="AML"),
        Scenario(
            "secretion-inhibition-removes-hspc-support",
            "…but a systemic inhibitor (nSMase2) also removes the supportive MSC EVs of "
            "normal HSPCs",
            ("seed 000 [8, 17]",),
            Arm(aml, ({"name": "nsmase2_inhibitor", "start": 0},)), Arm(aml),
            Readout("MSC EVs delivered to HSPCs, mean of days 0-60", "EV/day",
                    _delivered("MSC", HSPC), summary="mean", window=(0.0, 60.0)),
            expected=-1, margin=0.05, days=days, group="AML"),
        Scenario(
            "pdl1-ev-removal-restores-cd8-killing",
            "Removing PD-L1+ EVs from blood (antibody-column plasmapheresis) restores CD8 "
            "T-cell killing", ("seed 000 [54, 55]",),
            Arm(aml, ({"name": "plasmapheresis", "start": days - 14,
                       "options": {"marker": "PD-L1"}},)), Arm(aml),
            Readout("CD8 kill rate of blasts", "1/h", _behavior("CD8_T.kill:blast"),
                    summary="mean", window=(days - 14, days - 4)),
            expected=+1, margin=0.01, days=days, group="AML"),
        Scenario(
            "heparin-reduces-msc-reprogramming",
            "Heparin blocks EV uptake by MSCs and so reduces their reprogramming by AML EVs",
            ("seed 000 [8, 17]",),
            Arm(aml, ({"name": "heparin", "start": 0, "options": {"targets": ["MSC"]}},)),
            Arm(aml),
            Readout("MSC reprogrammed share, mean over the run", "1",
                    _state("MSC.reprogrammed"), summary="mean"),
            expected=-1, margin=0.05, days=days, group="AML"),
        Scenario(
            "mir34c-il3-evs-reduce-lsc",
            "Engineered MSC-EVs with miR-34c-5p and Lamp2b-IL3/HCELL targeting reduce LSCs",
            ("seed 000 [64]",),
            Arm(aml, ({"name": "mir34c_ev", "start": days - 30},)), Arm(aml),
            Readout("LSCs", "cells", _cells(["LSC"])),
            expected=-1, margin=0.05, days=days, group="AML"),
    ]
    for model in models or ("aml", "cml", "cll", "all", "mm"):
        out += [
            Scenario(
                f"{model}-more-plasma-evs",
                f"Patients with {model.upper()} have more plasma EVs than healthy people",
                ("seed 000 [24-27]", "research: ev_parameters.md B (Caivano 2014)"),
                Arm(model), Arm("healthy"),
                Readout("plasma EVs", "EV/mL", _plasma_evs),
                expected=+1, margin=0.05, days=days, group="biomarker"),
            Scenario(
                f"{model}-more-plasma-mir155",
                f"Patients with {model.upper()} have more EV-borne miR-155 in plasma",
                ("seed 000 [24-27, 34, 41]",),
                Arm(model), Arm("healthy"),
                Readout("plasma EV miR-155", "copies/mL", _plasma_cargo("miR-155")),
                expected=+1, margin=0.05, days=days, group="biomarker"),
        ]
    return out


def available_presets() -> list[str]:
    from importlib import resources

    root = resources.files("evniche") / "presets"
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def catalog() -> dict[str, Scenario]:
    """All scenarios whose models exist as presets, by name."""
    present = set(available_presets())
    diseases = [m for m in ("aml", "cml", "cll", "all", "mm") if m in present]
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

