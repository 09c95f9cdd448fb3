"""What an isolation gives: yield by EV class and by cell of origin, purity, carry-over of
lipoproteins and protein, and what a leukemic-EV-specific readout loses or gains.

Yields are fractions (0–1) of the particles in the starting sample; purity is NTA-counted
particles per µg protein (Webber & Clayton, JEV 2013;2:19861: particles/µg as a purity
metric; research: ev_parameters.md D, thresholds U).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .characterization import NTASettings, detected_counts
from .protocols import Isolation
from .samples import Sample


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("nan")


def _sum(sample: Sample, keep) -> float:
    return float(sum(p.total for p in sample.populations if keep(p)))


def _nta_count(sample: Sample, keep) -> float:
    """NTA-visible particles of the populations ``keep`` selects."""
    s = NTASettings()
    sub = sample.replaced([p for p in sample.populations if keep(p)], sample.volume_ml)
    by_kind, _ = detected_counts(sub, s.reference_nm, s.upper_nm)
    return float(sum(v.sum() for v in by_kind.values()))


@dataclass
class Outcome:
    """Yields (fractions of the start), purity and the leukemic readout of one isolation.

    ``ev_yield``: EVs recovered / EVs in the sample; ``by_class``/``by_source``: the same per
    vesicle class / cell of origin; ``lipoprotein_carryover``, ``protein_carryover``:
    fraction of the sample's lipoprotein particles / protein (µg) in the isolate;
    ``lipoprotein_share``: lipoproteins among the NTA-visible particles of the isolate;
    ``lipoprotein_per_ev``: lipoprotein particles (visible or not) per EV in the isolate;
    ``particles_per_ug``: NTA-visible particles per µg protein of the isolate
    (``particles_per_ug_start`` of the sample); ``ev_per_ug``: EVs per µg;
    ``leukemic_yield``: leukemic EVs recovered / in the sample; ``leukemic_share_start``
    and ``leukemic_share``: leukemic EVs among all EVs; ``leukemic_visible_start`` and
    ``leukemic_visible``: leukemic EVs among the NTA-visible particles (what a
    particle-count readout of leukemic EVs is diluted by); ``cargo_yield``: copies of each
    cargo recovered / in the sample."""

    ev_yield: float
    by_class: dict[str, float]
    by_source: dict[str, float]
    lipoprotein_carryover: float
    protein_carryover: float
    protein_ug: float
    lipoprotein_share: float
    lipoprotein_per_ev: float
    particles_per_ug: float
    particles_per_ug_start: float
    ev_per_ug: float
    leukemic_yield: float
    leukemic_share_start: float
    leukemic_share: float
    leukemic_visible_start: float
    leukemic_visible: float
    cargo_yield: dict[str, float]

    @property
    def leukemic_enrichment(self) -> float:
        """Leukemic share of EVs after / before (> 1: the method favours leukemic EVs)."""
        return _ratio(self.leukemic_share, self.leukemic_share_start)


def _group_yield(start: Sample, isolate: Sample, key) -> dict[str, float]:
    names = sorted({key(p) for p in start.populations if p.kind == "ev"})
    out = {}
    for name in names:
        before = _sum(start, lambda p, n=name: p.kind == "ev" and key(p) == n)
        after = _sum(isolate, lambda p, n=name: p.kind == "ev" and key(p) == n)
        out[name] = _ratio(after, before)
    return out


def _cargo(sample: Sample) -> dict[str, float]:
    out: dict[str, float] = {}
    for p in sample.populations:
        for c, n in p.cargo.items():
            out[c] = out.get(c, 0.0) + p.total * n
    return out


def outcome(isolation: Isolation) -> Outcome:
    """The :class:`Outcome` of ``isolation``."""
    start, iso = isolation.start, isolation.isolate

    def is_ev(p):
        return p.kind == "ev"

    def is_leuk(p):
        return p.kind == "ev" and p.leukemic

    def is_lipo(p):
        return p.kind == "lipoprotein"

    def every(p):
        return True

    cargo0, cargo1 = _cargo(start), _cargo(iso)
    visible, visible0 = _nta_count(iso, every), _nta_count(start, every)
    return Outcome(
        ev_yield=_ratio(_sum(iso, is_ev), _sum(start, is_ev)),
        by_class=_group_yield(start, iso, lambda p: p.ev_class or "unknown"),
        by_source=_group_yield(start, iso, lambda p: p.source or "unknown"),
        lipoprotein_carryover=_ratio(_sum(iso, is_lipo), _sum(start, is_lipo)),
        protein_carryover=_ratio(iso.protein_ug, start.protein_ug),
        protein_ug=iso.protein_ug,
        lipoprotein_share=_ratio(_nta_count(iso, is_lipo), visible),
        lipoprotein_per_ev=_ratio(_sum(iso, is_lipo), _sum(iso, is_ev)),
        particles_per_ug=_ratio(visible, iso.protein_ug),
        particles_per_ug_start=_ratio(visible0, start.protein_ug),
        ev_per_ug=_ratio(_sum(iso, is_ev), iso.protein_ug),
        leukemic_yield=_ratio(_sum(iso, is_leuk), _sum(start, is_leuk)),
        leukemic_share_start=_ratio(_sum(start, is_leuk), _sum(start, is_ev)),
        leukemic_share=_ratio(_sum(iso, is_leuk), _sum(iso, is_ev)),
        leukemic_visible_start=_ratio(_nta_count(start, is_leuk), visible0),
        leukemic_visible=_ratio(_nta_count(iso, is_leuk), visible),
        cargo_yield={c: _ratio(cargo1.get(c, 0.0), n) for c, n in cargo0.items() if n > 0},
    )


def finite(x: float) -> bool:
    """Whether ``x`` is a finite number."""
    return bool(np.isfinite(x))
