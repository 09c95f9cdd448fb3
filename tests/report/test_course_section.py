"""The report's clinical course: the section, its text at the top of the summary, and
honest small numbers (extinct populations, no negative amounts) in its tables."""

from __future__ import annotations

import re

import numpy as np
import pytest
from markupsafe import escape

import evniche
from evniche.readouts import clinical
from evniche.report import html as report_html
from evniche.report import write_report


def _section(page: str, heading: str) -> str:
    return page.split(f">{heading}</h2>", 1)[1].split("<h2", 1)[0]


@pytest.fixture(scope="module")
def treated(leukemia_model):
    """The tiny leukemia model with heparin from day 10 to 40 (a window) — enough to draw
    a therapy timeline."""
    return evniche.simulate(leukemia_model, days=60, equilibrate_first=False,
                            interventions=[{"name": "heparin", "start": 10,
                                            "options": {"duration": 30}}])


def test_course_section_and_text_at_the_top_of_the_summary(treated, tmp_path):
    page = write_report(treated, tmp_path).read_text(encoding="utf-8")
    text = clinical.course(treated)["text"]
    assert text.startswith("Presents on day")
    escaped = str(escape(text))
    summary = _section(page, "Summary")
    assert summary.index(escaped) < summary.index("take-over on day")  # the text comes first
    course = _section(page, "Clinical course")
    assert escaped in course
    assert re.search(r"<td>heparin</td><td class=\"n\">10</td><td class=\"n\">40</td>", course)
    assert course.count('src="data:image/png;base64,') == 1


def test_course_section_without_therapy_says_so(leukemia_run, tmp_path):
    course = _section(write_report(leukemia_run, tmp_path).read_text(encoding="utf-8"),
                      "Clinical course")
    assert "untreated, so no remission" in course
    assert "No therapy was given in this run." in course


def test_course_section_of_a_model_without_leukemia(leukemia_run, tmp_path):
    ds = leukemia_run.assign_attrs(leukemic="")
    course = _section(write_report(ds, tmp_path).read_text(encoding="utf-8"), "Clinical course")
    assert "no leukemic cell type" in course


def test_cells_and_amounts_for_humans():
    assert report_html.cells(5.7e-7) == "extinct"
    assert report_html.cells(-1e-12) == "extinct"
    assert report_html.cells(0.999) == "extinct"
    assert report_html.cells(1.0) == "1"
    assert report_html.cells(float("nan")) == "–"
    assert report_html.amount(-1e-12) == "0"
    assert report_html.amount(2.5e6) == "2.50e+06"


def test_extinct_population_and_round_off_deliveries_in_the_report(leukemia_run, tmp_path):
    ds = leukemia_run.copy(deep=True)
    ds["cells"].loc[{"cell_type": "HSC"}] = np.where(ds["time"] > 80, 5.7e-7,
                                                     ds["cells"].sel(cell_type="HSC"))
    ds["communication"].loc[{"source": "LSC", "target": "HSC"}] = -1e-12
    context = report_html.build_context(ds)
    assert ("HSC", "extinct") in context["summary"]["normal_end"]
    values = [v for _, row in context["matrix"]["rows"] for v in row]
    assert not any(v.startswith("-") for v in values)
    page = write_report(ds, tmp_path).read_text(encoding="utf-8")
    assert "<th>normal HSC at the end</th><td>extinct</td>" in page
