"""Clinical readouts of a Trajectory: what a hematologist reads off a marrow and a blood count.

All functions are pure functions of a Trajectory ``xarray.Dataset`` (see
:mod:`evniche.engines.trajectory`); they never know which engine produced it. Time is in
days; cell numbers are counts (cells); percentages are in % (0–100).

Definitions used throughout:

* **marrow cellularity**: the sum of ``cells`` over the cell types listed in
  ``ds.attrs["marrow_counted"]`` (";"-joined: the normal and leukemic hematopoietic
  types that live in the marrow; stroma and immune cells are not counted, as on a
  marrow differential).
* **blast %**: the leukemic cell types (``ds.attrs["leukemic"]``) that live in the marrow
  (i.e. that are also marrow-counted), over marrow cellularity, × 100.
* **normal blood output**: the count of the normal-lineage cell types that live in blood
  (``cell_lineage == "normal"`` and ``cell_compartment == "blood"``; in the presets the
  lumped ``mature`` compartment, the differentiated progeny of normal hematopoiesis in
  the Marciniak-Czochra / Stiehl structure HSC → progenitor → mature), so a fall of this
  number is the model's cytopenia. The background blood cells (lineage ``blood``: platelet
  "dust" and others) and immune cells are not added in; pass ``names`` to choose others.
* **blood blasts**: the leukemic types that live in blood (circulating blasts); **blood
  blast %** is their share of the hematopoietic blood cells (normal and leukemic lineage).
* **present**: a population below one cell is extinct. Readouts that report counts or
  fractions of cells (MRD, blood blasts, the report's tables and plots) zero counts below
  :data:`EXTINCT_BELOW` with :func:`present`; the raw trajectory stays as it is.

Where a Trajectory lacks the ``cell_compartment`` / ``cell_lineage`` coordinates (older
files, hand-made ones), marrow-counted types read as marrow, leukemic types that are not
marrow-counted as circulating (blood, leukemic) and types named ``mature`` as normal
blood output.

* **diagnosis** (:func:`diagnosis_day`): marrow blasts at or above the WHO 20 % and, for
  a disease that presents with marrow failure (AML: :data:`PRESENTS_WITH_CYTOPENIA`), a
  cytopenia (normal blood output at or below :data:`CYTOPENIA_BELOW` of day 0): the day the
  patient presents and is treated. ``NAME@diagnosis`` starts and ``at: diagnosis`` readings
  use the first output sample that meets them (:func:`diagnosis_sample`).

The response readouts (:func:`remission_day`, :func:`relapse_day`, :func:`mrd`,
:func:`course`) follow the ELN criteria (Döhner et al., Blood 2017;129:424–447,
doi:10.1182/blood-2016-08-733196; Döhner et al., Blood 2022;140:1345–1377,
doi:10.1182/blood.2022016867) and the ELN MRD recommendations (Heuser et al., Blood
2021;138:2753–2767, doi:10.1182/blood.2021013626); therapy times come from the
trajectory's ``interventions`` attribute (JSON written by :func:`evniche.engines.simulate`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np
import xarray as xr

from ..errors import EvnicheError

#: cell-type names read as normal hematopoietic stem and progenitor cells: the HSCs and the
#: dividing stages up to the committed progenitor of healthy.yaml (MPP, progenitor_2 …
#: progenitor_5, progenitor; docs/sources/hierarchy-study.md)
NORMAL_STEM_PROGENITOR = ("HSC", "MPP", "progenitor_2", "progenitor_3", "progenitor_4",
                          "progenitor_5", "progenitor")
#: cell-type names read as normal blood output when the trajectory has no lineage coordinates
MATURE = ("mature",)
#: a population below this many cells is extinct (cells)
EXTINCT_BELOW = 1.0
#: WHO/ELN blast threshold for the diagnosis of AML (% of marrow cells)
DIAGNOSIS_BLASTS = 20.0
#: ELN complete remission and relapse: marrow blasts below / at or above this (%)
REMISSION_BLASTS = 5.0
#: count recovery for CR: normal blood output at least this fraction of its day-0 value.
#: ELN 2017/2022 CR needs ANC >= 1.0e9/L (and platelets >= 100e9/L); the models' normal
#: blood output is granulocyte-equivalents, so the ANC criterion applies: 1.0e9/L over a
#: healthy median ANC of about 4e9/L (US adults, Hsieh et al., Ann Intern Med
#: 2007;146:486–492) = 0.25
COUNT_RECOVERY = 0.25
#: "no circulating blasts" (ELN CR): blood blasts below this % of hematopoietic blood
#: cells; a manual 100–200-cell differential cannot see fewer (assumption: smear limit)
BLOOD_BLAST_LIMIT = 1.0
#: MRD negativity: below 0.1 % leukemic cells (ELN 2021 MRD recommendations, Heuser et al.,
#: Blood 2021, doi:10.1182/blood.2021013626), a fraction
MRD_NEGATIVE = 1e-3
#: cytopenia: normal output below this fraction of day 0. The ANC lower reference limit
#: 1.8e9/L (McGraw-Hill AccessHemOnc normal adult values, docs/sources/clinical-course.md
#: N1b: 1.8-7.7e9/L) over the healthy median ANC of about 4e9/L (Hsieh et al., Ann Intern
#: Med 2007;146:486-492) = 0.45
CYTOPENIA_BELOW = 0.45
#: diseases diagnosed when they present with marrow failure (``ds.attrs["disease"]``): AML
#: patients present with the signs of anemia, neutropenia and thrombocytopenia ("Patients
#: with acute myeloid leukemia (AML) present with signs and symptoms resulting from bone
#: marrow failure", Seiter, Medscape 197802-clinical, 2023) at a median of 56-83 % marrow
#: blasts (Slovak 2000, doi:10.1182/blood.V96.13.4075; PMC10020242: 60 %, ANC 1.27e9/L),
#: not on the day blasts pass the WHO 20 % (docs/sources/clinical-course.md P1-P6, PR1).
#: Their diagnosis day needs the WHO blast threshold *and* a cytopenia; other diseases
#: (CML, T-ALL with their leukocytosis) keep the blast threshold alone
PRESENTS_WITH_CYTOPENIA = frozenset({"AML"})
#: diseases whose malignant marrow cells are not blasts (chronic leukemias, myeloproliferative
#: neoplasms, myeloma, lymphomas: their clone matures), so the clinical text says "malignant
#: cells" where it would say "blasts" for the acute leukemias and MDS
NOT_BLASTS = frozenset({"CML", "CLL", "MPN", "MM", "mantle cell lymphoma", "ATLL"})

Counts = TypeVar("Counts", xr.DataArray, np.ndarray, float)


def present(cells: Counts, below: float = EXTINCT_BELOW) -> Counts:
    """``cells`` (cells) for reporting: counts below ``below`` (one cell), round-off
    negatives included, read 0 (extinct); NaN stays NaN. Works on DataArrays, arrays and
    numbers; the raw trajectory is not changed."""
    if isinstance(cells, xr.DataArray):
        return cells.where((cells >= below) | cells.isnull(), 0.0)
    arr = np.asarray(cells, dtype=float)
    out = np.where((arr >= below) | np.isnan(arr), arr, 0.0)
    return float(out) if out.ndim == 0 else out


def _coord_or_fallback(ds: xr.Dataset, coord: str) -> dict[str, str]:
    names = [str(n) for n in _cells(ds)["cell_type"].values]
    if coord in ds.coords:
        return dict(zip(names, (str(v) for v in ds[coord].values), strict=True))
    counted, leuk = set(names_attr(ds, "marrow_counted")), set(names_attr(ds, "leukemic"))
    out = {}
    for n in names:
        mature = n.lower() in MATURE and n not in leuk
        if coord == "cell_compartment":
            out[n] = "marrow" if n in counted else "blood" if (n in leuk or mature) else ""
        else:
            out[n] = "leukemic" if n in leuk else "normal" if (n in counted or mature) else ""
    return out


def cell_types(ds: xr.Dataset, compartment: str | None = None,
               lineage: str | None = None) -> list[str]:
    """Cell types living in ``compartment`` ("marrow"/"blood") of ``lineage`` ("normal",
    "leukemic", "stroma", "immune", "blood"); None matches any. From the trajectory's
    ``cell_compartment`` / ``cell_lineage`` coordinates (fallback: see the module text)."""
    where = _coord_or_fallback(ds, "cell_compartment")
    kind = _coord_or_fallback(ds, "cell_lineage")
    return [n for n in where if (compartment is None or where[n] == compartment)
            and (lineage is None or kind[n] == lineage)]


def names_attr(ds: xr.Dataset, key: str) -> list[str]:
    """The cell-type names in the ";"-joined attribute ``key`` (empty list if absent)."""
    raw = ds.attrs.get(key, "")
    if isinstance(raw, list | tuple | np.ndarray):
        return [str(x) for x in raw if str(x)]
    return [part for part in str(raw).split(";") if part]


def _cells(ds: xr.Dataset) -> xr.DataArray:
    if "cells" not in ds:
        raise EvnicheError("the trajectory has no 'cells' variable; expected cells(time, "
                           "cell_type) as every engine writes it")
    return ds["cells"]


def _sum_types(ds: xr.DataArray | xr.Dataset, names: Sequence[str]) -> xr.DataArray:
    cells = _cells(ds) if isinstance(ds, xr.Dataset) else ds
    present = [n for n in names if n in cells["cell_type"].values]
    if not present:
        return xr.zeros_like(cells.isel(cell_type=0, drop=True))
    return cells.sel(cell_type=present).sum("cell_type")


def marrow_cellularity(ds: xr.Dataset) -> xr.DataArray:
    """Marrow cellularity over time (cells): ``cells`` summed over marrow-counted types."""
    counted = names_attr(ds, "marrow_counted")
    if not counted:
        raise EvnicheError("the trajectory's attribute 'marrow_counted' names no cell type; "
                           "expected the ';'-joined marrow cell types")
    out = _sum_types(ds, counted)
    out.attrs["units"] = "cells"
    return out.rename("marrow_cellularity")


def leukemic_marrow(ds: xr.Dataset) -> xr.DataArray:
    """Leukemic cells in the marrow over time (cells)."""
    counted = set(names_attr(ds, "marrow_counted"))
    leuk = [n for n in names_attr(ds, "leukemic") if n in counted]
    out = _sum_types(ds, leuk)
    out.attrs["units"] = "cells"
    return out.rename("leukemic_marrow")


def blast_percent(ds: xr.Dataset) -> xr.DataArray:
    """Blast % of marrow cells over time (%, 0–100; NaN where the marrow is empty)."""
    total = marrow_cellularity(ds)
    leuk = leukemic_marrow(ds)
    pct = 100.0 * leuk / total.where(total > 0)
    pct.attrs["units"] = "%"
    return pct.rename("blast_percent")


def normal_stem_progenitor(ds: xr.Dataset,
                           names: Sequence[str] = NORMAL_STEM_PROGENITOR) -> xr.DataArray:
    """Counts (cells) over time of the normal HSC and progenitor types present.

    Returns ``(time, cell_type)``; types in ``names`` missing from the model are left out,
    leukemic types are never included.
    """
    cells = _cells(ds)
    leuk = set(names_attr(ds, "leukemic"))
    present = [n for n in names if n in cells["cell_type"].values and n not in leuk]
    return cells.sel(cell_type=present)


def normal_blood_output(ds: xr.Dataset, names: Sequence[str] | None = None) -> xr.DataArray:
    """Normal blood output over time (cells): the normal-lineage types living in blood.

    ``names`` (matched case-insensitively, leukemic types never included) chooses other
    types. NaN over time if the model has no such type.
    """
    cells = _cells(ds)
    if names is None:
        chosen = cell_types(ds, "blood", "normal")
    else:
        leuk = set(names_attr(ds, "leukemic"))
        wanted = {n.lower() for n in names}
        chosen = [str(n) for n in cells["cell_type"].values
                  if str(n).lower() in wanted and str(n) not in leuk]
    if not chosen:
        out = xr.full_like(cells.isel(cell_type=0, drop=True), np.nan)
    else:
        out = cells.sel(cell_type=chosen).sum("cell_type")
    out.attrs["units"] = "cells"
    return out.rename("normal_blood_output")


def normal_lineages(ds: xr.Dataset) -> xr.DataArray:
    """Counts (cells) of the normal hematopoietic hierarchy over time, ``(time,
    cell_type)``: the non-leukemic marrow-counted types (HSC, progenitors, precursors …)
    then the normal blood output types. Raw counts (use :func:`present` to report them)."""
    leuk = set(names_attr(ds, "leukemic"))
    marrow = [n for n in names_attr(ds, "marrow_counted") if n not in leuk]
    chosen = [n for n in marrow if n in _cells(ds)["cell_type"].values]
    chosen += [n for n in cell_types(ds, "blood", "normal") if n not in chosen]
    return _cells(ds).sel(cell_type=chosen)


def blood_blasts(ds: xr.Dataset) -> xr.DataArray:
    """Circulating blasts over time (cells): the leukemic types living in blood, summed,
    counts below one cell read 0 (:func:`present`); 0 if the model has none."""
    out = present(_sum_types(ds, cell_types(ds, "blood", "leukemic")))
    out.attrs["units"] = "cells"
    return out.rename("blood_blasts")


def blood_blast_percent(ds: xr.Dataset) -> xr.DataArray:
    """Circulating blasts as % (0–100) of the hematopoietic blood cells (leukemic and
    normal lineages living in blood) over time; NaN where there are none (or the model has
    no such type)."""
    blasts = blood_blasts(ds)
    total = blasts + _sum_types(ds, cell_types(ds, "blood", "normal"))
    pct = 100.0 * blasts / total.where(total > 0)
    pct.attrs["units"] = "%"
    return pct.rename("blood_blast_percent")


def first_crossing(times: np.ndarray, values: np.ndarray, threshold: float) -> float | None:
    """First time (same unit as ``times``) at which ``values`` reaches ``threshold``.

    Linear interpolation between the sample before and the first sample at or above the
    threshold; the first sample itself if it is already at or above; ``None`` if never.
    NaN samples are skipped.
    """
    times = np.asarray(times, dtype=float)
    values = np.asarray(values, dtype=float)
    ok = np.isfinite(values) & np.isfinite(times)
    times, values = times[ok], values[ok]
    above = np.nonzero(values >= threshold)[0]
    if above.size == 0:
        return None
    k = int(above[0])
    if k == 0:
        return float(times[0])
    t0, t1, v0, v1 = times[k - 1], times[k], values[k - 1], values[k]
    return float(t0 + (threshold - v0) * (t1 - t0) / (v1 - v0))


def takeover_day(ds: xr.Dataset, threshold: float = 20.0) -> float | None:
    """First day (days) on which marrow blast % reaches ``threshold`` (%; 20 % is the WHO
    blast threshold for AML), linearly interpolated between samples; ``None`` if never."""
    if not 0 < threshold <= 100:
        raise EvnicheError(f"take-over threshold must be a blast % in (0, 100], got {threshold}")
    pct = blast_percent(ds)
    return first_crossing(ds["time"].values, pct.values, threshold)


def value_at(da: xr.DataArray, day: float | None = None) -> xr.DataArray:
    """``da`` at ``day`` (days; linear interpolation), or at the last sample if ``None``."""
    if day is None:
        return da.isel(time=-1)
    t = da["time"].values
    if not t[0] <= day <= t[-1]:
        raise EvnicheError(f"day {day} lies outside the trajectory ({t[0]:g}–{t[-1]:g} days)")
    return da.interp(time=day)


def normal_output_drop(ds: xr.Dataset, day: float | None = None,
                       names: Sequence[str] | None = None) -> float:
    """Relative drop of normal blood output from day 0 (first sample) to ``day`` (last
    sample if ``None``): ``1 − output(day) / output(start)``, a fraction (0.3 = 30 % lower;
    negative if output rose). NaN if the model has no mature type or starts with none."""
    out = normal_blood_output(ds, names)
    start = float(out.isel(time=0))
    end = float(value_at(out, day))
    if not np.isfinite(start) or start <= 0:
        return float("nan")
    return 1.0 - end / start


def summary(ds: xr.Dataset, threshold: float = 20.0) -> dict[str, float | None]:
    """The headline numbers: take-over day (days or None), blast % at start and end (%),
    marrow cellularity at the end (cells), normal output drop (fraction)."""
    pct = blast_percent(ds)
    return {
        "takeover_day": takeover_day(ds, threshold),
        "blast_percent_start": float(pct.isel(time=0)),
        "blast_percent_end": float(pct.isel(time=-1)),
        "marrow_cellularity_end": float(marrow_cellularity(ds).isel(time=-1)),
        "normal_output_drop": normal_output_drop(ds),
    }


# ----------------------------------------------------------------------------- MRD
def mrd_marrow(ds: xr.Dataset) -> xr.DataArray:
    """Measurable residual disease in the marrow over time (fraction, 0–1): leukemic
    marrow cells (counted as extinct below one cell) over marrow cellularity; NaN where
    the marrow is empty."""
    total = marrow_cellularity(ds)
    out = present(leukemic_marrow(ds)) / total.where(total > 0)
    out.attrs["units"] = "1"
    return out.rename("mrd_marrow")


def mrd_blood(ds: xr.Dataset) -> xr.DataArray:
    """MRD in blood over time (fraction, 0–1): circulating leukemic cells over all
    hematopoietic blood cells (leukemic and normal lineages living in blood); NaN if the
    model has no such type or none are left."""
    out = blood_blast_percent(ds) / 100.0
    out.attrs["units"] = "1"
    return out.rename("mrd_blood")


def mrd_ev(ds: xr.Dataset) -> xr.DataArray:
    """MRD read from plasma EVs over time (fraction, 0–1): the share of plasma EVs whose
    pool source is a leukemic cell type (a liquid biopsy of leukemia-derived EVs); NaN
    where plasma holds no EV or the trajectory has no pools."""
    time = _cells(ds)["time"]
    if "ev" not in ds or "pool_source" not in ds.coords or ds.sizes.get("pool", 0) == 0:
        return xr.full_like(time, np.nan, dtype=float).rename("mrd_ev")
    plasma = ds["ev"].sel(compartment="blood", drop=True).clip(min=0.0)
    leuk = set(names_attr(ds, "leukemic"))
    mask = xr.DataArray([str(s) in leuk for s in ds["pool_source"].values],
                        dims="pool", coords={"pool": ds["pool"]})
    total = plasma.sum("pool")
    out = plasma.where(mask, 0.0).sum("pool") / total.where(total > 0)
    out.attrs["units"] = "1"
    return out.rename("mrd_ev")


def mrd(ds: xr.Dataset) -> xr.Dataset:
    """MRD over time (fractions, 0–1) three ways: ``marrow`` (:func:`mrd_marrow`),
    ``blood`` (:func:`mrd_blood`) and ``ev`` (:func:`mrd_ev`). Below
    :data:`MRD_NEGATIVE` (0.1 %) is MRD-negative."""
    return xr.Dataset({"marrow": mrd_marrow(ds), "blood": mrd_blood(ds), "ev": mrd_ev(ds)})


# ----------------------------------------------------------------------------- therapy
def interventions(ds: xr.Dataset) -> list[dict[str, Any]]:
    """The therapy timeline the run recorded (``ds.attrs["interventions"]``, JSON): a list
    of ``{"label", "intervention", "item", "start_day", "end_day"}`` in days (a dose has
    ``end_day == start_day``); empty if none was given or recorded."""
    raw = ds.attrs.get("interventions", "")
    if raw in ("", None):
        return []
    try:
        rows = json.loads(raw) if isinstance(raw, str) else raw
        out = [{"label": str(r["label"]), "intervention": str(r.get("intervention") or
                                                                 r["label"]),
                "item": int(r.get("item", -1)), "start_day": float(r["start_day"]),
                "end_day": float(r["end_day"])} for r in rows]
    except (ValueError, TypeError, KeyError) as exc:
        raise EvnicheError("the trajectory's attribute 'interventions' is not a JSON list of "
                           f"{{label, start_day, end_day}}: {exc}") from None
    return sorted(out, key=lambda r: (r["start_day"], r["item"]))


def therapies(ds: xr.Dataset) -> list[dict[str, Any]]:
    """One entry per intervention given (its windows and doses grouped): ``intervention``
    (catalog name), ``item``, ``start_day`` (first window or dose) and ``end_day`` (last
    end), in days, ordered by start."""
    groups: dict[tuple, dict[str, Any]] = {}
    for r in interventions(ds):
        key = (r["item"], r["intervention"]) if r["item"] >= 0 else (-1, r["label"])
        g = groups.setdefault(key, {"intervention": r["intervention"], "item": r["item"],
                                    "start_day": r["start_day"], "end_day": r["end_day"]})
        g["start_day"] = min(g["start_day"], r["start_day"])
        g["end_day"] = max(g["end_day"], r["end_day"])
    return sorted(groups.values(), key=lambda g: (g["start_day"], g["item"]))


# ----------------------------------------------------------------------------- response
def presents_with_cytopenia(ds: xr.Dataset) -> bool:
    """Whether the run's disease (``ds.attrs["disease"]``) is diagnosed at presentation
    with marrow failure (:data:`PRESENTS_WITH_CYTOPENIA`), so that its diagnosis needs a
    cytopenia as well as the blast threshold."""
    return str(ds.attrs.get("disease", "")) in PRESENTS_WITH_CYTOPENIA


def _diagnosis_margins(ds: xr.Dataset, threshold: float) -> list[np.ndarray]:
    """The diagnosis criteria as margins over time (met where >= 0): marrow blasts -
    ``threshold`` (%), and for a disease that presents with cytopenia the cytopenia margin
    CYTOPENIA_BELOW - normal output / day 0 (a model without normal output: not judged)."""
    if not 0 < threshold <= 100:
        raise EvnicheError(f"diagnosis threshold must be a blast % in (0, 100], got {threshold}")
    margins = [np.nan_to_num(blast_percent(ds).values - threshold, nan=-np.inf)]
    if presents_with_cytopenia(ds):
        out = np.asarray(normal_blood_output(ds).values, dtype=float)
        healthy = float(out[0]) if out.size else float("nan")
        if np.isfinite(healthy) and healthy > 0:
            margins.append(np.nan_to_num(CYTOPENIA_BELOW - out / healthy, nan=-np.inf))
    return margins


def diagnosis_sample(ds: xr.Dataset, threshold: float = DIAGNOSIS_BLASTS) -> int | None:
    """Index of the first output sample at which the diagnosis criteria hold (see
    :func:`diagnosis_day`), the day a marrow and a blood count would show them; ``None``
    if never."""
    margins = _diagnosis_margins(ds, threshold)
    hit = np.nonzero(np.logical_and.reduce([m >= 0 for m in margins]))[0]
    return int(hit[0]) if hit.size else None


def diagnosis_criteria(ds: xr.Dataset, threshold: float = DIAGNOSIS_BLASTS) -> str:
    """The diagnosis criteria of ``ds`` in words (for messages and reports)."""
    text = f"marrow blasts >= {threshold:g} %"
    if presents_with_cytopenia(ds):
        text += (f" with cytopenia (normal blood output <= {100 * CYTOPENIA_BELOW:g} % of "
                 "healthy)")
    return text


def diagnosis_day(ds: xr.Dataset, threshold: float = DIAGNOSIS_BLASTS) -> float | None:
    """Day (days) of diagnosis; ``None`` if never.

    Marrow blasts at or above ``threshold`` (%; 20 %, WHO/ELN) and, for a disease that
    presents with marrow failure (:func:`presents_with_cytopenia`: AML), a cytopenia as
    well: normal blood output at or below :data:`CYTOPENIA_BELOW` of its day-0 (healthy) value,
    the day the patient presents. Interpolated linearly between the samples around the
    criterion met last; for other diseases this is the :func:`takeover_day`."""
    k = diagnosis_sample(ds, threshold)
    if k is None:
        return None
    times = np.asarray(ds["time"].values, dtype=float)
    if k == 0:
        return float(times[0])
    day = float(times[k - 1])
    for margin in _diagnosis_margins(ds, threshold):
        m0, m1 = margin[k - 1], margin[k]
        if m0 >= 0:
            continue
        if np.isfinite(m0) and np.isfinite(m1) and m1 != m0:
            day = max(day, float(times[k - 1] + (0 - m0) * (times[k] - times[k - 1]) / (m1 - m0)))
        else:
            day = max(day, float(times[k]))
    return day


def _remission_criteria(ds: xr.Dataset, blast_limit: float, recovery: float,
                        blood_blast_limit: float) -> list[tuple[np.ndarray, bool]]:
    """Each CR criterion as (margin over time, strict): met where margin > 0 (strict) or
    >= 0. A criterion the model cannot judge (no blood type) reads +inf (met); an empty
    marrow reads −inf (no remission)."""
    pct = np.nan_to_num(blast_percent(ds).values, nan=np.inf)
    out = np.asarray(normal_blood_output(ds).values, dtype=float)
    healthy = float(out[0]) if out.size else float("nan")
    if np.isfinite(healthy) and healthy > 0:
        count = np.nan_to_num(out / healthy - recovery, nan=np.inf)
    else:
        count = np.full(pct.shape, np.inf)
    blood = np.nan_to_num(blood_blast_percent(ds).values, nan=-np.inf)
    return [(blast_limit - pct, True), (count, False), (blood_blast_limit - blood, True)]


def _met(margin: np.ndarray, strict: bool) -> np.ndarray:
    return margin > 0 if strict else margin >= 0


def _remission(ds: xr.Dataset, threshold: float, blast_limit: float, recovery: float,
               blood_blast_limit: float) -> tuple[float | None, int | None]:
    """(CR day, index of the first sample in CR) or (None, None)."""
    start = remission_search_start(ds, threshold)
    if start is None:
        return None, None
    times = np.asarray(ds["time"].values, dtype=float)
    criteria = _remission_criteria(ds, blast_limit, recovery, blood_blast_limit)
    met = np.logical_and.reduce([_met(m, strict) for m, strict in criteria])
    hits = np.nonzero(met & (times > start))[0]
    if hits.size == 0:
        return None, None
    k = int(hits[0])
    if k == 0:
        return float(times[0]), 0
    day = float(times[k - 1])
    for margin, strict in criteria:  # the last criterion to be met fixes the day
        m0, m1 = margin[k - 1], margin[k]
        if _met(np.array(m0), strict):
            continue
        if np.isfinite(m0) and np.isfinite(m1) and m1 != m0:
            day = max(day, float(times[k - 1] + (0 - m0) * (times[k] - times[k - 1]) / (m1 - m0)))
        else:
            day = max(day, float(times[k]))
    return max(day, start), k


def remission_search_start(ds: xr.Dataset, threshold: float = DIAGNOSIS_BLASTS
                           ) -> float | None:
    """From when (days) a complete remission is looked for: the later of the diagnosis day
    and the first therapy start, and then the nadir of normal blood output (the first
    sample from which it no longer falls); ``None`` without a diagnosis or without therapy.

    A therapy that starts once the marrow blasts have reached ``threshold`` (the WHO/ELN
    blast criterion) treats a diagnosed leukemia even before the patient would present with
    cytopenia (:func:`diagnosis_day`): a marrow taken then makes the diagnosis, as in a
    cohort sampled at a given blast stage. A therapy that starts before it does not.

    CR needs count *recovery*: while a course is still emptying the marrow, blasts can be
    below 5 % with normal output not yet down to the ANC limit, which is aplasia, not
    remission (ELN 2017: response is assessed at hematologic recovery)."""
    given = therapies(ds)
    if not given:
        return None
    first = float(given[0]["start_day"])
    dx = diagnosis_day(ds, threshold)
    if dx is None or dx > first:
        pct = blast_percent(ds)
        before = pct.values[np.asarray(ds["time"].values, dtype=float) <= first]
        if max(float(np.max(before, initial=0.0)), float(value_at(pct, first))) >= threshold:
            dx = first  # the marrow met the blast criterion by the therapy's start
    if dx is None:
        return None
    start = max(dx, given[0]["start_day"])
    times = np.asarray(ds["time"].values, dtype=float)
    out = np.asarray(normal_blood_output(ds).values, dtype=float)
    k = int(np.searchsorted(times, start))
    while k + 1 < times.size and np.isfinite(out[k]) and out[k + 1] < out[k]:
        k += 1
    return max(start, float(times[k])) if k < times.size else start


def remission_day(ds: xr.Dataset, threshold: float = DIAGNOSIS_BLASTS,
                  blast_limit: float = REMISSION_BLASTS, recovery: float = COUNT_RECOVERY,
                  blood_blast_limit: float = BLOOD_BLAST_LIMIT) -> float | None:
    """Day (days) of complete remission (CR, ELN 2017/2022), or ``None``.

    The first time after :func:`remission_search_start` (diagnosis and a therapy start)
    at which, together:

    * marrow blasts < ``blast_limit`` (%; ELN: 5 %),
    * count recovery: normal blood output >= ``recovery`` × its day-0 (healthy) value.
      ELN requires ANC >= 1.0e9/L and platelets >= 100e9/L; the normal output is
      granulocyte-equivalents, and 1.0e9/L over a healthy median ANC of about 4e9/L is
      the default 0.25 (:data:`COUNT_RECOVERY`). Not applied if the model has no normal
      blood type.
    * no circulating blasts: blood blasts < ``blood_blast_limit`` (% of hematopoietic blood
      cells; default 1 %, what a manual differential can see; counts below one cell are 0).

    The day is interpolated linearly between the samples around the criterion met last.
    """
    return _remission(ds, threshold, blast_limit, recovery, blood_blast_limit)[0]


def remission_sample(ds: xr.Dataset, threshold: float = DIAGNOSIS_BLASTS,
                     blast_limit: float = REMISSION_BLASTS, recovery: float = COUNT_RECOVERY,
                     blood_blast_limit: float = BLOOD_BLAST_LIMIT) -> int | None:
    """Index of the first output sample in complete remission (see :func:`remission_day`,
    whose day is interpolated before it), the day a marrow and a blood count would
    document the CR; ``None`` without one."""
    return _remission(ds, threshold, blast_limit, recovery, blood_blast_limit)[1]


def relapse_day(ds: xr.Dataset, threshold: float = DIAGNOSIS_BLASTS,
                blast_limit: float = REMISSION_BLASTS, recovery: float = COUNT_RECOVERY,
                blood_blast_limit: float = BLOOD_BLAST_LIMIT) -> float | None:
    """Day (days) of relapse after complete remission (ELN): marrow blasts back at or
    above ``blast_limit`` (%; 5 %) or circulating blasts back at or above
    ``blood_blast_limit`` (% of hematopoietic blood cells), interpolated linearly;
    ``None`` without a remission or if neither happens."""
    cr, k = _remission(ds, threshold, blast_limit, recovery, blood_blast_limit)
    if cr is None or k is None:
        return None
    times = np.asarray(ds["time"].values, dtype=float)[k:]
    days = [first_crossing(times, blast_percent(ds).values[k:], blast_limit),
            first_crossing(times, blood_blast_percent(ds).values[k:], blood_blast_limit)]
    found = [d for d in days if d is not None]
    return min(found) if found else None


def _at(da: xr.DataArray, day: float) -> float:
    return float(value_at(da, day))


def _percent(fraction: float) -> str:
    value = 100.0 * fraction
    if value == 0:
        return "0 %"
    return f"{value:.2g} %" if value < 10 else f"{value:.0f} %"


def _names(items: list[str]) -> str:
    seen = list(dict.fromkeys(items))
    return seen[0] if len(seen) == 1 else ", ".join(seen[:-1]) + " and " + seen[-1]


def course(ds: xr.Dataset, threshold: float = DIAGNOSIS_BLASTS,
           blast_limit: float = REMISSION_BLASTS, recovery: float = COUNT_RECOVERY,
           blood_blast_limit: float = BLOOD_BLAST_LIMIT) -> dict[str, Any]:
    """The clinical course of a run as a dict (days, %, fractions as named):

    ``diagnosis_day`` (:func:`diagnosis_day`), ``diagnosis_criteria`` (in words),
    ``output_at_diagnosis`` (normal blood output / day 0, fraction),
    ``remission_day``, ``remission_after`` (the intervention started last before CR),
    ``mrd_at_remission`` (marrow MRD fraction; ``mrd_blood_at_remission``,
    ``mrd_ev_at_remission`` the same from blood cells and plasma EVs),
    ``mrd_negative`` (marrow MRD < 0.1 %), ``relapse_day``, ``lowest_output`` (fraction of
    day 0) and ``lowest_output_day``, ``therapies`` (each with ``blast_percent`` at its
    start), ``days`` (simulated) and ``text``, one paragraph for a clinician. ``None``
    where a day does not exist (e.g. no CR without therapy)."""
    times = ds["time"].values
    end = float(times[-1])
    pct = blast_percent(ds)
    out = normal_blood_output(ds)
    healthy = float(out.isel(time=0))
    relative = out / healthy if np.isfinite(healthy) and healthy > 0 else out * np.nan
    dx = diagnosis_day(ds, threshold)
    cr, _ = _remission(ds, threshold, blast_limit, recovery, blood_blast_limit)
    relapse = relapse_day(ds, threshold, blast_limit, recovery, blood_blast_limit)
    given = [{**t, "blast_percent": _at(pct, t["start_day"])} for t in therapies(ds)]
    levels = mrd(ds)
    lowest, lowest_day = None, None
    if np.isfinite(relative.values).any():
        i = int(np.nanargmin(relative.values))
        lowest, lowest_day = float(relative.values[i]), float(times[i])
    result: dict[str, Any] = {
        "days": end - float(times[0]),
        "diagnosis_day": dx,
        "diagnosis_criteria": diagnosis_criteria(ds, threshold),
        "output_at_diagnosis": None if dx is None else _at(relative, dx),
        "remission_day": cr,
        "remission_after": None,
        "mrd_at_remission": None, "mrd_blood_at_remission": None, "mrd_ev_at_remission": None,
        "mrd_negative": None,
        "relapse_day": relapse,
        "lowest_output": lowest, "lowest_output_day": lowest_day,
        "therapies": given,
    }
    if cr is not None:
        before = [t["intervention"] for t in given if t["start_day"] <= cr]
        result["remission_after"] = before[-1] if before else None
        for key, var in (("mrd_at_remission", "marrow"), ("mrd_blood_at_remission", "blood"),
                         ("mrd_ev_at_remission", "ev")):
            value = _at(levels[var], cr)
            result[key] = value if np.isfinite(value) else None
        marrow = result["mrd_at_remission"]
        result["mrd_negative"] = None if marrow is None else marrow < MRD_NEGATIVE
    result["text"] = _course_text(result, pct, threshold, blast_limit, malignant_noun(ds))
    return result


def malignant_noun(ds: xr.Dataset) -> str:
    """What the run's counted malignant cells are called in clinical words: "blasts", or
    "malignant cells" for a disease in :data:`NOT_BLASTS` (``ds.attrs["disease"]``)."""
    return "malignant cells" if str(ds.attrs.get("disease", "")) in NOT_BLASTS else "blasts"


def _course_text(c: dict[str, Any], pct: xr.DataArray, threshold: float,
                 blast_limit: float, noun: str = "blasts") -> str:
    times = pct["time"].values
    end = float(times[-1])
    if c["diagnosis_day"] is None:
        if np.isfinite(pct.values).any():
            i = int(np.nanargmax(pct.values))
            top = f" (highest {pct.values[i]:.2g} % on day {times[i]:.0f})"
        else:
            top = ""
        what = (f"marrow {noun} stay below {threshold:g} %"
                if c["diagnosis_criteria"] == f"marrow blasts >= {threshold:g} %"
                else f"{c['diagnosis_criteria']} not reached")
        text = f"No diagnosis: {what} over the {c['days']:g} days simulated{top}"
        if c["therapies"]:
            text += f"; {_names([t['intervention'] for t in c['therapies']])} given"
        return text + "."
    dx = c["diagnosis_day"]
    text = f"Presents on day {dx:.1f} with {_at(pct, dx):.0f} % marrow {noun}"
    if c["output_at_diagnosis"] is not None and np.isfinite(c["output_at_diagnosis"]):
        frac = c["output_at_diagnosis"]
        text += f" and normal blood output at {100 * frac:.0f} % of healthy" + (
            " (cytopenia)" if frac <= CYTOPENIA_BELOW * (1 + 1e-9) else "")
    if not c["therapies"]:
        text += "; untreated, so no remission"
    elif c["remission_day"] is None:
        after = [t for t in c["therapies"] if t["end_day"] >= dx] or c["therapies"]
        later = pct.where(pct["time"] >= dx)
        i = int(np.nanargmin(later.values))
        text += (f"; no complete remission after {_names([t['intervention'] for t in after])}"
                 f" (marrow {noun} lowest {pct.values[i]:.2g} % on day {times[i]:.0f}; "
                 f"CR needs < {blast_limit:g} % with count recovery)")
    else:
        text += f"; complete remission on day {c['remission_day']:.1f}"
        if c["remission_after"]:
            text += f" after {c['remission_after']}"
        mrd_value = c["mrd_at_remission"]
        text += (f"; MRD {_percent(mrd_value)} at remission ("
                 f"{'negative' if c['mrd_negative'] else 'positive'}, threshold 0.1 %)")
        text += (f"; relapse on day {c['relapse_day']:.1f}" if c["relapse_day"] is not None
                 else f"; no relapse by day {end:.0f}")
    if c["lowest_output"] is not None:
        text += (f". Normal blood output is lowest on day {c['lowest_output_day']:.0f}, at "
                 f"{100 * c['lowest_output']:.0f} % of healthy")
    return text + "."
