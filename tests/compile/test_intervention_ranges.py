"""Every intervention option is checked against its declared range (in the option's unit),
and dose schedules stay bounded: no option can ask for a run that never ends."""

from __future__ import annotations

from pathlib import Path

import pytest

from evniche.compile.interventions import (
    CATALOG,
    _doses,
    build_schedule,
    parse_intervention,
    resolve_options,
)
from evniche.engines import prepare
from evniche.errors import ModelError
from evniche.units import to_canonical

TINY = Path(__file__).parents[1] / "spec" / "tiny.yaml"
RANGED = [(itype, opt) for name, itype in sorted(CATALOG.items()) if name == itype.name
          for opt in itype.options if opt.range is not None]


@pytest.fixture(scope="module")
def net():
    return prepare(str(TINY))[0]


def _given(itype, opt, number: float) -> dict:
    """Option ``opt`` = ``number`` in its unit, with the options ``itype`` requires."""
    required = {"marker": "PD-L1"} if "marker" in {o.name for o in itype.options} else {}
    return {**required, opt.name: _written(opt, number)}


def _written(opt, number: float) -> str:
    unit = opt.unit if opt.unit not in ("", "1") else ""
    return f"{number:.12g} {unit}".strip()


def test_there_are_ranged_options_of_every_kind():
    kinds = {opt.kind for _, opt in RANGED}
    assert {"count", "time", "dimensionless", "molar", "clearance"} <= kinds


@pytest.mark.parametrize(("itype", "opt"), RANGED,
                         ids=[f"{t.name}.{o.name}" for t, o in RANGED])
def test_an_option_is_accepted_at_its_bounds_and_refused_beyond_them(net, itype, opt):
    low, high = opt.range
    kind = "dimensionless" if opt.kind == "count" else opt.kind
    for bound in (low, high):
        opts = resolve_options(itype, _given(itype, opt, bound), "x", net)
        assert opts[opt.name] == pytest.approx(to_canonical(bound, opt.unit or "1", kind))
    beyond = [high + 1, low - 1] if opt.kind == "count" else [high * 2] + (
        [low / 2] if low > 0 else [])
    for value in beyond:
        with pytest.raises(ModelError) as exc:
            resolve_options(itype, _given(itype, opt, value), "iv", net)
        assert exc.value.path == f"iv.options.{opt.name}"
        assert f"range {low:g}–{high:g}" in exc.value.message
        assert opt.name in exc.value.message


def test_every_repeated_intervention_declares_a_positive_minimum_interval():
    """A zero interval would stack every dose at one instant: the ranges must forbid it."""
    repeated = [t for n, t in CATALOG.items() if n == t.name
                and any(o.name in ("doses", "sessions") for o in t.options)]
    assert repeated
    for itype in repeated:
        interval = itype.option("interval")
        assert interval.range is not None and interval.range[0] > 0, itype.name


def test_the_defaults_lie_within_their_ranges():
    for itype, opt in RANGED:
        low, high = opt.range
        assert low <= float(opt.default) <= high, f"{itype.name}.{opt.name}"


def test_a_huge_number_of_doses_is_refused_naming_the_intervention_and_the_range(net):
    doses = CATALOG["cytarabine"].option("doses")
    with pytest.raises(ModelError) as exc:
        build_schedule(net, [parse_intervention("cytarabine@3:doses=1e12,drug=x")], 30)
    assert exc.value.path == "interventions[0] (cytarabine).options.doses"
    assert f"range {doses.range[0]:g}–{doses.range[1]:g}" in exc.value.message
    assert "1e+12" in exc.value.message


@pytest.mark.parametrize("name", ["cytarabine", "therapeutic_ev", "plasmapheresis"])
def test_a_zero_interval_is_refused(net, name):
    with pytest.raises(ModelError, match="interval") as exc:
        resolve_options(CATALOG[name], {"interval": 0, "marker": "PD-L1"}
                        if name == "plasmapheresis" else {"interval": 0}, "iv", net)
    assert exc.value.path == "iv.options.interval"


def test_an_interval_given_in_hours_is_compared_in_days(net):
    interval = CATALOG["cytarabine"].option("interval")
    low_hours = interval.range[0] * 24.0
    ok = resolve_options(CATALOG["cytarabine"], {"interval": f"{low_hours} h"}, "iv", net)
    assert ok["interval"] == pytest.approx(low_hours)
    with pytest.raises(ModelError, match="outside the option's range"):
        resolve_options(CATALOG["cytarabine"], {"interval": f"{low_hours / 2} h"}, "iv", net)


def test_dose_times_stop_at_the_end_of_the_run_however_many_doses():
    times = _doses(10.0, {"doses": 10**12, "interval": 24.0}, t_end=100.0)
    assert times == [10.0, 34.0, 58.0, 82.0]
