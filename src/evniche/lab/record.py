"""The EV-TRACK/MISEV-style record of a virtual experiment: its sample, every step with
its parameters and derived quantities (g-force, rotor, k-factor, cut-offs), the
characterization methods with their instrument limits, the results, the assumptions, and
two checklists with their scores, so that a virtual protocol can be compared with a real
one.

* ``ev_metric``: the nine components of EV-TRACK's EV-METRIC (Van Deun J et al., Nat
  Methods 2017;14:228–232; "nine components", EV-TRACK summary add-on, JEV 2019,
  doi:10.1080/20013078.2019.1699367) as evniche reads them; the component names are
  recalled, not copied from evtrack.org, and the score is evniche's, not evtrack.org's.
  Components that do not apply (no ultracentrifugation, no antibody, a virtual lysate) are
  left out of the score, as EV-METRIC does for non-applicable components.
* ``misev``: the mandatory items of MISEV2018 Table (as tabulated in PMC9465297 Table 3):
  source volume; two global quantifications and their ratio; a transmembrane and a
  cytosolic EV protein; expected contaminants; single-EV images; a non-image single-EV
  method.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any

from .. import __version__
from .characterization import MARKER_ROLE, Characterization
from .outcome import Outcome
from .protocols import Isolation

FORMAT = "evniche-lab-record/1"


def _clean(x: Any) -> Any:
    """JSON-safe: NaN/inf → None, tuples → lists, numpy scalars → floats."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if hasattr(x, "item") and not isinstance(x, str):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _item(name: str, satisfied: bool, applicable: bool = True, note: str = "") -> dict:
    return {"item": name, "applicable": applicable, "satisfied": bool(satisfied and applicable),
            "note": note}


def ev_metric(isolation: Isolation, readings: Characterization) -> list[dict]:
    """The nine EV-METRIC components as evniche reads them, for this experiment."""
    steps = [r.step for r in isolation.results]
    uc = [r for r in isolation.results if r.step in ("centrifuge", "density_gradient") and
          r.derived.get("g at r_max", (0.0, ""))[0] >= 1e5 * 0.99]
    wb = readings.markers.western_blot
    ev_proteins = [m for m in ("CD9", "CD63", "CD81", "TSG101") if wb.get(m)]
    non_ev = [m for m in ("ApoA1", "ApoB", "albumin") if m in wb]
    return [
        _item("density gradient used in the separation", "density_gradient" in steps),
        _item("density of the EV fraction reported", "density_gradient" in steps,
              "density_gradient" in steps, "collected density window recorded"),
        _item("EV-enriched proteins analysed (detected)", bool(ev_proteins),
              note=", ".join(ev_proteins) or "none detected by western blot"),
        _item("non-EV-enriched proteins analysed", bool(non_ev), note=", ".join(non_ev)),
        _item("electron microscopy images (wide-field and close-up)", True,
              note="virtual EM count; no images"),
        _item("particle analysis (NTA)", True, note="virtual NTA with detection limits"),
        _item("ultracentrifugation specifics (g-force, time, rotor, k-factor)", bool(uc),
              bool(uc), "recorded per step"),
        _item("antibody specifics (clone, dilution)", False,
              any(s == "immunocapture" for s in steps) or bool(wb),
              "virtual reagents have no clone: not reported"),
        _item("lysate preparation for protein analysis", False, False,
              "virtual experiment: no lysate"),
    ]


def misev(isolation: Isolation, readings: Characterization) -> list[dict]:
    """MISEV2018's mandatory items as satisfied by this experiment."""
    wb = readings.markers.western_blot
    return [
        _item("volume of fluid used", isolation.start.volume_ml > 0,
              note=f"{isolation.start.volume_ml:g} mL {isolation.start.fluid}"),
        _item("global quantification by two methods (protein, particles)", True,
              note="total protein (µg) and NTA particle count"),
        _item("ratio of the two quantifications", True, note="particles per µg protein"),
        _item("transmembrane EV protein (CD9/CD63/CD81)",
              any(wb.get(m) for m in ("CD9", "CD63", "CD81"))),
        _item("cytosolic EV protein (TSG101)", bool(wb.get("TSG101"))),
        _item("expected contaminants assessed (ApoA1, ApoB, albumin)",
              all(m in wb for m in ("ApoA1", "ApoB", "albumin"))),
        _item("single-EV images (wide-field and close-up)", True, note="virtual EM"),
        _item("non-image single-EV method", True, note="virtual NTA and flow cytometry"),
    ]


def score(items: list[dict]) -> float:
    """Satisfied / applicable items (0–1; NaN if none applies)."""
    applicable = [i for i in items if i["applicable"]]
    return sum(i["satisfied"] for i in applicable) / len(applicable) if applicable \
        else float("nan")


def build(isolation: Isolation, readings: Characterization, result: Outcome,
          command: str = "") -> dict:
    """The record as a JSON-ready dict."""
    start = isolation.start
    nta, fl, em, mk = readings.nta, readings.flow, readings.em, readings.markers
    metric, misev_items = ev_metric(isolation, readings), misev(isolation, readings)
    return _clean({
        "format": FORMAT,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "evniche": __version__,
        "command": command,
        "virtual": True,
        "sample": {
            "species": "human (model)", "fluid": start.fluid, "volume_mL": start.volume_ml,
            "day": start.day, "run": start.run, "model": start.model, "digest": start.digest,
            "medium": start.medium.name, "notes": start.notes,
            "particles": [{"name": p.name, "kind": p.kind, "count": p.total,
                           "per_mL": p.total / start.volume_ml, "density_g_mL": p.density,
                           "refractive_index": p.refractive_index, "class": p.ev_class,
                           "source": p.source, "leukemic": p.leukemic}
                          for p in start.populations],
            "protein_ug": start.protein_ug,
        },
        "protocol": {"name": isolation.protocol.name,
                     "description": isolation.protocol.description,
                     "intended_fluid": isolation.protocol.fluid,
                     "reference": isolation.protocol.reference},
        "steps": [{"step": r.step, "label": r.label, "parameters": r.parameters,
                   "derived": {k: {"value": v, "unit": u} for k, (v, u) in r.derived.items()},
                   "volume_after_mL": r.volume_ml, "kept": r.kept, "notes": r.notes}
                  for r in isolation.results],
        "characterization": {
            "nta": {"reference_bead_nm": nta.settings.reference_nm,
                    "reference_ri": 1.59, "upper_nm": nta.settings.upper_nm,
                    "window_per_mL": nta.settings.window_per_ml,
                    "smallest_detected_nm": nta.limits_nm, "dilution": nta.dilution,
                    "in_window": nta.in_window, "particles_per_mL": nta.total_per_ml,
                    "mode_nm": nta.mode_nm,
                    "share_by_kind": {k: nta.share(k) for k in nta.by_kind}},
            "flow": {"trigger_bead_nm": fl.settings.trigger_nm,
                     "probe_volume_mL": fl.settings.probe_volume_ml,
                     "smallest_triggering_nm": fl.limits_nm,
                     "events_per_mL": fl.events_per_ml, "marker_share": fl.marker_share,
                     "swarm_index": fl.swarm_index, "swarm": fl.swarm,
                     "dilution_against_swarm": fl.swarm_dilution},
            "electron_microscopy": {"resolution_nm": em.settings.resolution_nm,
                                    "particles_counted": em.settings.particles,
                                    "ev_share": em.ev_share, "ev_median_nm": em.ev_median_nm,
                                    "non_vesicular": em.other_counts},
            "markers": {m: {"role": MARKER_ROLE.get(m, ""), "molecules": v, "ng": mk.ng(m),
                            "western_blot": mk.western_blot[m],
                            "proteomics": mk.proteomics[m]}
                        for m, v in mk.molecules.items()},
            "marker_limits": {"western_blot_molecules": mk.settings.wb_lod_molecules,
                              "proteomics_molecules": mk.settings.ms_lod_molecules},
        },
        "results": {
            "ev_yield": result.ev_yield, "yield_by_class": result.by_class,
            "yield_by_source": result.by_source,
            "lipoprotein_carryover": result.lipoprotein_carryover,
            "protein_carryover": result.protein_carryover, "protein_ug": result.protein_ug,
            "lipoprotein_share_of_NTA_particles": result.lipoprotein_share,
            "lipoprotein_particles_per_EV": result.lipoprotein_per_ev,
            "particles_per_ug": result.particles_per_ug,
            "particles_per_ug_start": result.particles_per_ug_start,
            "ev_per_ug": result.ev_per_ug,
            "leukemic": {"yield": result.leukemic_yield,
                         "share_of_EVs_start": result.leukemic_share_start,
                         "share_of_EVs_isolate": result.leukemic_share,
                         "enrichment": result.leukemic_enrichment,
                         "share_of_NTA_particles_start": result.leukemic_visible_start,
                         "share_of_NTA_particles_isolate": result.leukemic_visible},
            "cargo_yield": result.cargo_yield,
        },
        "checklists": {"ev_metric": {"items": metric, "score": score(metric)},
                       "misev2018": {"items": misev_items, "score": score(misev_items)}},
    })
