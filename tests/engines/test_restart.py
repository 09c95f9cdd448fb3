"""Continue a run from any saved time: a continued run equals the uninterrupted one, in
Python and through `evniche run --from DIR@DAY`; branching from one saved state."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import evniche
from evniche.cli import main
from evniche.compile.interventions import parse_intervention
from evniche.errors import EvnicheError, SimulationError

TINY = Path(__file__).resolve().parent / "spatial" / "tiny.yaml"
#: a continued run restarts the adaptive solver at the saved day: equal within its tolerance
#: (rtol 1e-7 per step by default; the EVs delivered per day, differences of two cumulative
#: ledger readings, differ by up to 3.4e-5 at that rtol with the aml leukemia growing from
#: day 0, and by 1.2e-6 at rtol 1e-9, the setting the comparison below runs at)
RTOL = 2e-5
#: the solver tolerance of the continued-equals-uninterrupted comparison
COMPARE_RTOL = 1e-9


def _close(a: xr.DataArray, b: xr.DataArray) -> float:
    """Largest relative difference where the values are not negligible (below a millionth of
    the largest value or 1e-9: solver noise around zero, e.g. ~1e-17 nM of a drug never
    given, far below the smallest absolute tolerance of a variable that is not a fraction,
    1e-9 nM)."""
    a, b = np.asarray(a.values, float), np.asarray(b.values, float)
    scale = np.maximum(np.abs(a), max(1e-6 * float(np.nanmax(np.abs(a))), 1e-9))
    return float(np.nanmax(np.abs(a - b) / scale))


@pytest.fixture(scope="module")
def aml():
    return evniche.load_model("aml")


def test_continued_run_equals_the_uninterrupted_one(aml) -> None:
    full = evniche.simulate(aml, days=90, rtol=COMPARE_RTOL)
    state = evniche.saved_state(full, 40)
    cont = evniche.simulate(aml, days=90, start=state, rtol=COMPARE_RTOL)
    assert float(cont.time[0]) == 40 and float(cont.time[-1]) == 90
    tail = full.sel(time=slice(40, None))
    for var in ("cells", "ev", "cytokines", "states", "ledger", "drugs"):
        assert _close(tail[var], cont[var]) < RTOL, var
    # EVs delivered per day over each output interval; a trajectory's first entry repeats
    # its second (no interval before it), so the continued run's first day is its own
    later = slice(1, None)
    assert _close(tail.communication.isel(time=later), cont.communication.isel(time=later)) \
        < RTOL
    # the ledger stays closed from the run's own origin
    assert cont.attrs["ledger_relative_error"] < 1e-9
    assert "day 40" in cont.attrs["continued_from"]


def test_continued_run_with_interventions_before_and_after_the_day(aml) -> None:
    items = [parse_intervention("cytarabine@20"), parse_intervention("nsmase2_inhibitor@50")]
    full = evniche.simulate(aml, days=80, interventions=items)
    cont = evniche.simulate(aml, days=80, interventions=items,
                            start=evniche.saved_state(full, 22))
    # day 22: inside the cytarabine course, which goes on after the restart
    tail = full.sel(time=slice(22, None))
    assert float(tail.drugs.sel(drug="cytarabine").isel(time=0)) > 1.0
    assert _close(tail["cells"], cont["cells"]) < RTOL
    assert _close(tail["drugs"], cont["drugs"]) < RTOL


def test_branching_from_one_saved_state(aml) -> None:
    base = evniche.simulate(aml, days=60)
    state = evniche.saved_state(base, 30)
    plain = evniche.simulate(aml, days=60, start=state)
    treated = evniche.simulate(aml, days=60, start=state,
                               interventions=[parse_intervention("cytarabine@30")])
    # both branches start from the same state, and the therapy changes the second
    assert np.array_equal(plain.cells.isel(time=0).values, treated.cells.isel(time=0).values)
    # during the course, the treated branch has fewer blasts
    assert float(treated.cells.sel(cell_type="blast", time=33)) < \
        0.9 * float(plain.cells.sel(cell_type="blast", time=33))


def test_refused_continuations(aml, tmp_path: Path) -> None:
    ds = evniche.simulate(aml, days=10)
    with pytest.raises(EvnicheError, match="no state saved at day 3.5"):
        evniche.saved_state(ds, 3.5)
    state = evniche.saved_state(ds, 5)
    with pytest.raises(SimulationError, match="must be later than"):
        evniche.simulate(aml, days=5, start=state)
    with pytest.raises(SimulationError, match="another model"):
        evniche.simulate(evniche.load_model(str(TINY)), days=10, start=state)
    with pytest.raises(SimulationError, match="well-mixed engine only"):
        evniche.simulate(aml, days=10, start=state, engine="spatial")
    with pytest.raises(FileNotFoundError):
        evniche.saved_state(tmp_path / "none", 5)


def test_cli_run_from_a_saved_day(tmp_path: Path, capsys) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    args = ["--no-report", "--no-sensitivity"]
    assert main(["run", str(TINY), "--days", "20", "--out", str(first), *args]) == 0
    assert main(["run", str(TINY), "--days", "20", "--from", f"{first}@8", "--out",
                 str(second), *args]) == 0
    a = xr.load_dataset(first / "trajectory.nc", engine="h5netcdf")
    b = xr.load_dataset(second / "trajectory.nc", engine="h5netcdf")
    assert float(b.time[0]) == 8
    assert _close(a.cells.sel(time=slice(8, None)), b.cells) < RTOL
    capsys.readouterr()
    assert main(["run", str(TINY), "--days", "20", "--from", f"{first}", "--out",
                 str(tmp_path / "x")]) == 2
    assert "DIR@DAY" in capsys.readouterr().err
    assert main(["run", str(TINY), "--days", "20", "--from", f"{first}@8.5", "--out",
                 str(tmp_path / "y"), *args]) == 2
    assert "no state saved at day 8.5" in capsys.readouterr().err


def test_overrides_apply_to_a_loaded_model(aml) -> None:
    """`simulate(model, overrides=…)` on an already-loaded model applies them (it used to
    ignore them), and a bad override is a clear error."""
    base = evniche.simulate(aml, days=20)
    # LSCs dividing twice as often (half the interval) make more LSCs
    interval = aml.params.resolved["lsc_division_interval"].value_in_unit
    faster = evniche.simulate(aml, days=20, overrides={
        "parameters.lsc_division_interval.value": interval / 2})
    assert float(faster.cells.sel(cell_type="LSC").isel(time=-1)) > \
        float(base.cells.sel(cell_type="LSC").isel(time=-1))
    with pytest.raises(EvnicheError, match="no_such_parameter"):
        evniche.simulate(aml, days=5, overrides={"parameters.no_such_parameter.value": 1})
