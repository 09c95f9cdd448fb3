"""The HTML report: one self-contained file with every section, figures and assumptions."""

from __future__ import annotations

import base64
import io
import re

import pandas as pd
import pytest
from PIL import Image

from evniche.errors import EvnicheError
from evniche.readouts import clinical
from evniche.report import html as report_html
from evniche.report import write_report

SENSITIVITY = pd.DataFrame({"parameter": ["a_lsc", "p_lsc"], "value": [0.8, 0.02],
                            "outcome_low": [30.0, 23.0], "outcome_base": [22.0, 22.0],
                            "outcome_high": [16.0, 21.0], "elasticity": [-3.2, -0.6],
                            "note": ["", ""]})


@pytest.fixture(scope="module")
def page(leukemia_run, leukemia_model, tmp_path_factory) -> str:
    """The report of the well-mixed leukemia run, with model and sensitivity table."""
    path = write_report(leukemia_run, tmp_path_factory.mktemp("report"), model=leukemia_model,
                        sensitivity=SENSITIVITY, title="tiny leukemia report")
    assert path.name == "report.html"
    return path.read_text(encoding="utf-8")


def test_report_has_every_section_and_embedded_figures(page):
    for heading in report_html.SECTIONS:
        if heading == "Spatial snapshots":
            assert f">{heading}</h2>" not in page  # no snapshots in a well-mixed run
        else:
            assert f">{heading}</h2>" in page, heading
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 7  # course, populations, blood, plasma, NTA, heatmap, cell states
    for data in images:
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<title>tiny leukemia report</title>" in page


def test_report_is_self_contained(page):
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_report_summary_sensitivity_and_assumptions(page, leukemia_run, leukemia_model):
    day = clinical.takeover_day(leukemia_run)
    summary = page.split(">Populations and marrow blasts</h2>")[0]
    assert f"take-over on day {day:.1f}" in summary
    assert "It depends most on a_lsc (elasticity -3.20)" in summary
    assert leukemia_model.digest in summary
    names = [p.name for p in leukemia_model.assumptions()]
    assert len(names) == len(leukemia_model.params.resolved)  # every test value is assumed
    assumptions = page.split(">Assumptions this result rests on</h2>")[1]
    for name in names:
        assert f"<td>{name}</td>" in assumptions
    # the ledger section shows the engine's error
    assert f"{leukemia_run.attrs['ledger_relative_error']:.1e}" in page


def test_spatial_snapshots_animation_and_missing_model(spatial_run, tmp_path):
    early = spatial_run.isel(time=slice(0, 8))  # before take-over
    page = write_report(early, tmp_path).read_text(encoding="utf-8")
    assert ">Spatial snapshots</h2>" in page
    for day in ("Day 0<", "Day 45<", "Day 90<"):
        assert day in page
    gifs = re.findall(r'src="data:image/gif;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(gifs) == 1
    assert Image.open(io.BytesIO(base64.b64decode(gifs[0]))).n_frames == 3
    assert "no take-over" in page
    assert "its assumptions cannot be listed" in page


def test_bad_sensitivity_table_is_rejected(leukemia_run, tmp_path):
    with pytest.raises(EvnicheError, match="sensitivity"):
        write_report(leukemia_run, tmp_path, sensitivity=pd.DataFrame({"x": [1]}))


def test_rules_section_shows_the_operating_range(page, leukemia_run, tmp_path):
    from evniche.readouts.rules import describe, operating_range

    frame = operating_range(leukemia_run)
    section = page.split(">Rules: where each one operates</h2>")[1].split("</table>")[0]
    assert describe(frame) in section
    assert section.count("<tr><td") == len(frame)  # one row per rule
    # a trajectory without rule signals (the spatial engine's) says why there is no table
    other = write_report(leukemia_run.drop_vars("rule_signals"), tmp_path).read_text(
        encoding="utf-8")
    rules = other.split(">Rules: where each one operates</h2>")[1].split("<h2")[0]
    assert "Not available" in rules and "does not record the signals" in rules
