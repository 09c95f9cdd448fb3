"""Posteriors shipped with the presets (src/evniche/posteriors/PRESET/): each one loads and
fits its preset as the preset is now (else it says which command regenerates it), `evniche
run PRESET` uses a fitting one, warns about one that does not fit and runs the point
model, and `--posterior none` turns it off; `evniche calibrate PRESET --ship` installs one."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

import evniche
from evniche.cli import main
from evniche.cli.calibrate import _command_line
from evniche.cli.model_commands import _shipped_plan
from evniche.errors import EvnicheError
from evniche.experiments import posterior as posterior_module
from evniche.experiments.calibration import ship, work_folder
from evniche.experiments.posterior import (
    META,
    PARQUET,
    REGENERATE,
    load_posterior,
    shipped_folder,
)

ROOT = Path(str(resources.files("evniche") / "posteriors"))
SHIPPED = sorted(p.name for p in ROOT.iterdir() if (p / PARQUET).is_file()) \
    if ROOT.is_dir() else []
TINY = Path(__file__).parents[1] / "readouts" / "tiny_leukemia.yaml"


def test_aml_ships_a_posterior():
    # `make demo` shows bands only with it
    assert "aml" in SHIPPED
    assert shipped_folder("aml") == ROOT / "aml"


@pytest.mark.parametrize("preset", SHIPPED)
def test_the_shipped_posterior_fits_its_preset(preset):
    folder = ROOT / preset
    post = load_posterior(folder)
    meta = post.meta
    try:
        post.check_model(evniche.load_model(preset))
    except EvnicheError as exc:
        pytest.fail(f"the posterior shipped for preset '{preset}' is stale ({exc}). "
                    f"Regenerate the shipped posteriors: `{REGENERATE}` (for this preset: "
                    f"`{meta.get('command')}`), then commit src/evniche/posteriors/.")
    # what it was made from, and how to make it again
    assert meta["model_source"] == preset
    assert meta["regenerate"] == REGENERATE
    assert meta["command"].startswith(f"evniche calibrate {preset} ")
    assert "--ship" in meta["command"].split()
    assert meta["versions"]["evniche"]
    assert meta["observations"] and all(o["id"] and o["source"] for o in meta["observations"])
    assert meta["population"] >= 2 and meta["generations"] >= 1
    assert meta["simulations"] >= meta["population"]
    assert len(post.weights) == meta["population"]
    # the Makefile target regenerates it
    makefile = (Path(__file__).parents[2] / "Makefile").read_text(encoding="utf-8")
    assert f"evniche calibrate {preset} --ship" in makefile
    # small: kilobytes in the package, not megabytes
    assert (folder / PARQUET).stat().st_size + (folder / META).stat().st_size < 64_000


def test_shipped_folder_is_only_for_presets_with_one(tmp_path, monkeypatch):
    assert shipped_folder(str(TINY)) is None  # a model file
    assert shipped_folder("nope") is None
    missing = [p for p in evniche.spec.loader.preset_names() if p not in SHIPPED]
    if missing:
        assert shipped_folder(missing[0]) is None
    monkeypatch.chdir(tmp_path)
    (tmp_path / "aml").write_text("a model file named like the preset", encoding="utf-8")
    assert shipped_folder("aml") is None  # `aml` names that file here, not the preset


# ------------------------------------------------------------------ `evniche run` default


@pytest.fixture(scope="module")
def tiny():
    return evniche.load_model(str(TINY))


def fake_shipped(folder: Path, model, digest: str | None = None) -> Path:
    """A posterior over the tiny model's p_lsc (two particles), as if shipped."""
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"parameters.p_lsc": [0.02, 0.035], "weight": [0.5, 0.5]}).to_parquet(
        folder / PARQUET)
    (folder / META).write_text(json.dumps({
        "model": model.name, "digest": digest or model.digest,
        "parameters": {"parameters.p_lsc": {"unit": "1/h"}}}), encoding="utf-8")
    return folder


def run_tiny(tmp_path, name: str, *extra: str) -> int:
    return main(["run", str(TINY), "--days", "30", "--out", str(tmp_path / name),
                 "--no-sensitivity", *extra])


def test_run_uses_the_shipped_posterior_when_it_fits(tiny, tmp_path, monkeypatch, capsys):
    folder = fake_shipped(tmp_path / "shipped", tiny)
    monkeypatch.setattr(posterior_module, "shipped_folder", lambda model: folder)
    assert run_tiny(tmp_path, "out", "--ensemble", "3") == 0
    captured = capsys.readouterr()
    assert "warning" not in captured.err
    assert "ensemble of 3 from the posterior shipped for preset" in captured.out
    assert len(pd.read_parquet(tmp_path / "out" / "ensemble.parquet")) == 3
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "Uncertainty over the posterior" in html and "90 % CrI" in html
    assert html.count("over the ensemble: median and bands") >= 4


def test_a_bad_ensemble_size_is_an_error_not_a_stale_posterior(tiny, tmp_path, monkeypatch,
                                                                capsys):
    folder = fake_shipped(tmp_path / "shipped", tiny)
    monkeypatch.setattr(posterior_module, "shipped_folder", lambda model: folder)
    assert run_tiny(tmp_path, "out", "--ensemble", "0") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --ensemble must be a whole number >= 1")
    assert not (tmp_path / "out").exists()


def test_a_stale_shipped_posterior_warns_and_runs_the_point_model(tiny, tmp_path,
                                                                   monkeypatch, capsys):
    folder = fake_shipped(tmp_path / "stale", tiny, digest="ffffffffffffffff")
    monkeypatch.setattr(posterior_module, "shipped_folder", lambda model: folder)
    assert run_tiny(tmp_path, "out", "--no-report") == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "warning:" in err and "digest ffffffffffffffff" in err
    assert f"`{REGENERATE}`" in err and "--posterior none" in err
    assert "Running the point model (no bands)" in err
    assert (tmp_path / "out" / "trajectory.nc").is_file()
    assert not (tmp_path / "out" / "ensemble.parquet").exists()


def test_posterior_none_runs_the_point_model_without_a_word(tiny, tmp_path, monkeypatch,
                                                             capsys):
    for digest in (None, "ffffffffffffffff"):  # fitting or stale: not read at all
        folder = fake_shipped(tmp_path / f"p{digest}", tiny, digest=digest)
        monkeypatch.setattr(posterior_module, "shipped_folder", lambda model, f=folder: f)
        assert run_tiny(tmp_path, f"out{digest}", "--no-report", "--posterior", "none") == 0
        captured = capsys.readouterr()
        assert "warning" not in captured.err and "shipped" not in captured.out
        assert not (tmp_path / f"out{digest}" / "ensemble.parquet").exists()


@pytest.mark.parametrize(("engine", "continued", "why"), [
    ("stochastic", False, "--engine stochastic"), ("spatial", False, "--engine spatial"),
    ("wellmixed", True, "--from")])
def test_other_engines_say_they_run_the_point_model(tiny, tmp_path, monkeypatch, capsys,
                                                     engine, continued, why):
    folder = fake_shipped(tmp_path / "shipped", tiny)
    monkeypatch.setattr(posterior_module, "shipped_folder", lambda model: folder)
    model, plan = _shipped_plan(str(TINY), tiny, engine, 5, 0, continued)
    assert model is tiny and plan is None
    err = " ".join(capsys.readouterr().err.split())
    assert "note:" in err and f"with {why} this is the point model" in err


# ------------------------------------------------------------------ `calibrate --ship`


def test_ship_installs_the_two_files_and_the_regenerate_command(tmp_path):
    out = tmp_path / "calib"
    out.mkdir()
    pd.DataFrame({"parameters.x": [1.0], "weight": [1.0]}).to_parquet(out / PARQUET)
    (out / META).write_text(json.dumps({"model": "healthy", "model_source": "healthy",
                                        "digest": "d", "parameters": []}), encoding="utf-8")
    (out / "history.db").write_bytes(b"big")
    dest = ship(out, "healthy", root=tmp_path / "posteriors")
    assert dest == tmp_path / "posteriors" / "healthy"
    assert sorted(p.name for p in dest.iterdir()) == [META, PARQUET]  # no history, no report
    meta = json.loads((dest / META).read_text(encoding="utf-8"))
    assert meta["regenerate"] == REGENERATE and meta["digest"] == "d"
    with pytest.raises(EvnicheError, match="holds a calibration of 'healthy', not of preset "
                                           "'aml'"):
        ship(out, "aml", root=tmp_path / "posteriors")
    with pytest.raises(EvnicheError, match="--ship: 'tiny.yaml' is not a preset"):
        ship(out, "tiny.yaml", root=tmp_path / "posteriors")


def test_calibrate_ship_refuses_a_model_file_and_out_is_required(tmp_path, capsys):
    assert main(["calibrate", str(TINY), "--ship"]) == 2
    assert "--ship:" in capsys.readouterr().err
    assert main(["calibrate", str(TINY)]) == 2
    assert capsys.readouterr().err.startswith("error: --out: give the output folder")


def test_the_recorded_command_makes_the_calibration_again():
    assert _command_line("aml", None, None, "a,b", 8, 1, None, None, 0, True) == (
        "evniche calibrate aml --parameters a,b --population 8 --generations 1 "
        "--predictive 0 --seed 0 --ship")
    assert _command_line("m y.yaml", Path("o"), [Path("obs")], None, 4, 2, 30, 200.0, 4,
                         False, 7) == (
        "evniche calibrate 'm y.yaml' --out o --observations obs --population 4 "
        "--generations 2 --max-simulations 30 --days 200 --predictive 4 --seed 7")


def test_the_ship_work_folder_is_per_digest_and_settings():
    digest = str(evniche.load_model("healthy").digest)[:16]
    folder = work_folder("healthy", "a")
    assert folder.parent == Path("build") / "posteriors"
    assert folder.name.startswith(f"healthy-{digest}-") and len(folder.name.split("-")[-1]) == 8
    assert work_folder("healthy", "a") == folder != work_folder("healthy", "b")
