"""``evniche run`` and ``evniche check`` refuse bad input before anything runs or is
written: one ``error:`` line on stderr, exit status 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from evniche.cli import main
from evniche.compile.interventions import CATALOG
from evniche.engines import cost
from evniche.spec.loader import load_model
from evniche.spec.model import MAX_NAME_LENGTH
from evniche.units import ureg

TINY_LEUKEMIA = str(Path(__file__).parents[1] / "readouts" / "tiny_leukemia.yaml")
QUICK = ["--no-report", "--no-sensitivity"]


def refused(capsys, argv: list[str], *words: str) -> str:
    """Run the CLI; check it exits with 2 and one error line holding ``words``."""
    status = main(argv)
    out, err = capsys.readouterr()
    assert status == 2, (out, err)
    assert err.startswith("error: ") and "Traceback" not in err + out
    text = " ".join(err.split())
    for word in words:
        assert word in text, text
    return text


@pytest.mark.parametrize("days", ["inf", "nan", "1e308", "0", "-5"])
def test_days_that_are_not_a_finite_positive_number_are_refused(tmp_path, capsys, days):
    out = tmp_path / "out"
    refused(capsys, ["run", TINY_LEUKEMIA, "--out", str(out), f"--days={days}", *QUICK],
            "--days")
    assert not out.exists()


def test_a_run_above_the_day_limit_needs_allow_large(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cost, "MAX_DAYS", 3.0)  # the limit itself is not what is tested
    out = tmp_path / "out"
    argv = ["run", TINY_LEUKEMIA, "--out", str(out), "--days", "4", *QUICK]
    refused(capsys, argv, "too large", "--allow-large")
    assert not out.exists()
    assert main([*argv, "--allow-large"]) == 0
    assert (out / "trajectory.nc").exists()


def test_a_run_that_would_not_fit_in_memory_is_refused_with_its_estimate(tmp_path, capsys):
    out = tmp_path / "out"
    refused(capsys, ["run", TINY_LEUKEMIA, "--out", str(out), "--days", "1e15",
                     "--allow-large", *QUICK], "1e+15-day", "TiB", "memory")
    assert not out.exists()


@pytest.mark.parametrize("engine", ["wellmixed", "spatial", "stochastic"])
@pytest.mark.parametrize("seed", ["-1", str(cost.SEED_LIMIT)])
def test_a_seed_outside_0_to_2_63_is_refused_for_every_engine(tmp_path, capsys, engine, seed):
    out = tmp_path / "out"
    refused(capsys, ["run", TINY_LEUKEMIA, "--out", str(out), "--days", "2", f"--seed={seed}",
                     "--engine", engine, *QUICK], "--seed", seed)
    assert not out.exists()


def test_an_intervention_option_beyond_its_range_is_refused(tmp_path, capsys):
    low, high = CATALOG["cytarabine"].option("doses").range
    text = "cytarabine@3:doses=1e12"
    out = tmp_path / "out"
    refused(capsys, ["run", TINY_LEUKEMIA, "--out", str(out), "--days", "10",
                     "--intervene", text, *QUICK],
            f"--intervene {text}", "options.doses", "1e+12", f"range {low:g}–{high:g}")
    assert not out.exists()


def test_a_zero_interval_between_doses_is_refused(tmp_path, capsys):
    low, high = CATALOG["cytarabine"].option("interval").range
    refused(capsys, ["run", TINY_LEUKEMIA, "--out", str(tmp_path / "o"), "--days", "10",
                     "--intervene", "cytarabine@3:interval=0", *QUICK],
            "options.interval", f"range {low:g}–{high:g}")


def _half_life():
    p = load_model("healthy").spec.parameters["ev_blood_half_life"]
    assert p.range is not None
    return p


def test_a_value_in_a_new_unit_is_checked_against_the_range_in_that_unit(capsys):
    p = _half_life()
    low, high = p.range
    number = (low + high) / 2  # inside the declared numbers, but read in days
    assert ureg.Quantity(number, "day").to(p.unit).magnitude > high
    refused(capsys, ["check", "healthy", "--set",
                     f"parameters.ev_blood_half_life={number} day"],
            "parameters.ev_blood_half_life", "outside its range", "(in day)")


def test_a_value_inside_the_range_in_a_new_unit_is_accepted(capsys):
    p = _half_life()
    low, high = p.range
    hours = ureg.Quantity((low + high) / 2, p.unit).to("h").magnitude
    assert not low <= hours <= high  # the bare number lies outside the declared numbers
    assert main(["check", "healthy", "--set", f"parameters.ev_blood_half_life={hours} h"]) == 0


@pytest.mark.parametrize(("path", "words"), [
    ("rules[abc].direction", "list index [abc] is not a whole number"),
    ("rules[9999].direction", "index 9999 is out of range"),
    ("rules.direction", "is a list"),
])
def test_a_malformed_override_path_is_refused_naming_it(capsys, path, words):
    refused(capsys, ["check", TINY_LEUKEMIA, "--set", f"{path}=increases"], path, words)


def test_a_model_with_an_overlong_name_is_refused_before_running(tmp_path, capsys):
    model = tmp_path / "long.yaml"
    # a model reads only files beside it (or presets): the base model is copied there
    (tmp_path / "tiny_leukemia.yaml").write_text(Path(TINY_LEUKEMIA).read_text(encoding="utf-8"),
                                                 encoding="utf-8")
    model.write_text(f"extends: tiny_leukemia.yaml\nname: {'m' * 300}\n", encoding="utf-8")
    out = tmp_path / "out"
    refused(capsys, ["run", str(model), "--out", str(out), "--days", "2", *QUICK],
            "name", f"at most {MAX_NAME_LENGTH}")
    assert not out.exists()


def test_the_help_states_the_limits_the_run_enforces(capsys):
    assert main(["run", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.replace("│", " ").split())
    assert f"at most {cost.MAX_DAYS:.0f}" in text
    assert f"results above {cost.MAX_OUTPUT_BYTES // 1024**3} GiB" in text
    assert "--allow-large" in text


def test_a_remission_start_without_remission_is_not_given_and_the_report_says_so(
        tmp_path, capsys):
    """consolidation@remission with no therapy before it: the run with the other
    interventions (none) reaches no complete remission, so it is not given (a patient
    without remission is not consolidated): the console says so and the run and its
    report record it, and the trajectory is that of the run without it."""
    import json

    import xarray as xr

    out = tmp_path / "out"
    assert main(["run", TINY_LEUKEMIA, "--out", str(out), "--days=30", "--no-sensitivity",
                 "--intervene", "heparin@remission"]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert "not given: heparin@remission" in printed
    assert "not consolidated" in printed
    with xr.open_dataset(out / "trajectory.nc") as ds:
        assert "heparin@remission" in ds.attrs["interventions_not_given"]
        assert json.loads(ds.attrs["interventions"]) == []  # the run without it
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "interventions asked for" in html and "not consolidated" in html
