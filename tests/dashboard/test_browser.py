"""The dashboard driven in a real headless Chromium (Debian's chromium and chromedriver).

Skipped, with the reason, where no browser is installed; ``.ci/run`` installs one. A
screenshot of each view is kept in ``$EVNICHE_TEST_ARTIFACTS/dashboard`` (default
``test-artifacts/dashboard`` in the project folder).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="no headless browser: install Debian's chromium and chromium-driver "
           "(apt-get install chromium chromium-driver) to run the dashboard's browser tests")

ARTIFACTS = Path(os.environ.get("EVNICHE_TEST_ARTIFACTS",
                                Path(__file__).resolve().parents[2] / "test-artifacts"))


@pytest.fixture(scope="module")
def page(registry: Path, results: tuple[Path, Path]) -> Iterator:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from evniche.dashboard.app import build_app, serve

    app = build_app(registry, list(results))
    server = serve(app, "127.0.0.1", 0)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1100"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.get(f"http://127.0.0.1:{server.port}/")
    try:
        yield driver
    finally:
        driver.quit()
        server.shutdown()
        app.evniche_jobs.shutdown()


def wait_for(check: Callable[[], object], timeout: float = 60.0, what: str = "") -> object:
    """Poll ``check()`` until it returns something truthy (its value), or fail."""
    end = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < end:
        try:
            last = check()
        except Exception:  # noqa: BLE001 - the page is still rendering
            last = None
        if last:
            return last
        time.sleep(0.25)
    pytest.fail(f"the page did not show {what or 'what was expected'} within {timeout:g} s")


def screenshot(driver, name: str) -> None:
    folder = ARTIFACTS / "dashboard"
    folder.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(folder / f"{name}.png"))


def open_tab(driver, label: str) -> None:
    from selenium.webdriver.common.by import By

    tab = wait_for(lambda: [t for t in driver.find_elements(By.CSS_SELECTOR, ".tab")
                            if t.text.strip() == label], what=f"the tab {label}")
    tab[0].click()


def choose(driver, element_id: str, text: str) -> None:
    """Pick ``text`` in the dropdown ``element_id`` by typing it and pressing Enter."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = wait_for(lambda: driver.find_element(By.ID, element_id), what=element_id)
    box.click()  # opens the list with its search field focused
    field = wait_for(lambda: driver.switch_to.active_element.tag_name == "input"
                     and driver.switch_to.active_element, what=f"{element_id}'s search")
    field.send_keys(text)
    time.sleep(0.5)
    field.send_keys(Keys.ENTER)


def body(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


def test_runs_view_lists_and_plots_a_run(page) -> None:
    from selenium.webdriver.common.by import By

    wait_for(lambda: "healthy" in body(page), what="the registered run")
    box = wait_for(lambda: page.find_elements(By.CSS_SELECTOR,
                                                 "#runs-table input[type=checkbox]"),
                   what="the run's selection box")
    box[0].click()
    wait_for(lambda: "healthy" in page.find_element(By.ID, "runs-graph").text
             and "HSC" in page.find_element(By.ID, "runs-graph").text,
             what="the run's lines in the graph")
    screenshot(page, "runs")


def test_knowledge_base_search_shows_quotes_and_retractions(page) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    open_tab(page, "Knowledge base")
    search = wait_for(lambda: page.find_element(By.ID, "kb-search"), what="the search box")
    search.send_keys("retracted", Keys.ENTER)
    wait_for(lambda: "retracted" in page.find_element(By.ID, "kb-table").text,
             what="retracted records")
    first = page.find_elements(By.CSS_SELECTOR, "#kb-table td.dash-cell")[0]
    first.click()
    detail = wait_for(lambda: page.find_element(By.ID, "kb-detail").text, what="a record")
    assert "“" in detail and "seed" in detail
    screenshot(page, "knowledge-base")


def test_scenarios_view_lists_findings_and_proposals(page) -> None:
    from selenium.webdriver.common.by import By

    open_tab(page, "Scenarios")
    text = wait_for(lambda: page.find_element(By.ID, "sc-table").text, what="the catalog")
    assert "finding" in text and "proposal" in text
    screenshot(page, "scenarios")


def test_explore_runs_an_intervention_beside_the_baseline(page, registry: Path) -> None:
    from selenium.webdriver.common.by import By

    from evniche.dashboard import data

    before = len(data.runs_table(registry))
    open_tab(page, "Explore")
    days = wait_for(lambda: page.find_element(By.ID, "ex-days"), what="the days box")
    days.clear()
    days.send_keys("5")
    choose(page, "ex-intervention", "nsmase2_inhibitor")
    wait_for(lambda: "Options:" in page.find_element(By.ID, "ex-int-doc").text,
             what="the intervention's options")
    day = page.find_element(By.ID, "ex-int-day")
    day.clear()
    day.send_keys("1")
    page.find_element(By.ID, "ex-run").click()
    wait_for(lambda: "done" in page.find_element(By.ID, "ex-status").text, timeout=300,
             what="the finished run")
    graph = wait_for(lambda: "changed:" in page.find_element(By.ID, "ex-graph").text
                     and page.find_element(By.ID, "ex-graph").text, what="both runs' lines")
    assert "baseline:" in graph
    assert "nsmase2_inhibitor@1" in graph  # the title names the intervention
    assert len(data.runs_table(registry)) == before + 2  # both saved to the registry
    screenshot(page, "explore")


def test_who_talks_to_whom_shows_the_network_and_its_records(page) -> None:
    from selenium.webdriver.common.by import By

    open_tab(page, "Who talks to whom")
    choose(page, "talk-run", "healthy")
    cells = wait_for(lambda: page.find_elements(By.CSS_SELECTOR, "#talk-table td.dash-cell"),
                     what="the edges")
    assert "who sends EVs to whom" in page.find_element(By.ID, "talk-graph").text
    all_evs = page.find_element(By.ID, "talk-table").text
    cells[0].click()
    wait_for(lambda: page.find_element(By.ID, "talk-records").text, what="the records")
    choose(page, "talk-class", "microvesicle")
    # only blood cells and MSCs shed microvesicles in the healthy model: other edges go
    wait_for(lambda: page.find_element(By.ID, "talk-table").text != all_evs
             and "precursor" not in page.find_element(By.ID, "talk-table").text,
             what="the microvesicle edges only")
    screenshot(page, "who-talks-to-whom")


def test_cohorts_and_posteriors_show_their_tables(page) -> None:
    from selenium.webdriver.common.by import By

    open_tab(page, "Cohorts & posteriors")
    choose(page, "res-folder", "cohort")
    wait_for(lambda: "qPCR miR-155" in page.find_element(By.ID, "res-table").text,
             what="the cohort's AUC table")
    assert "ROC AUC" in page.find_element(By.ID, "res-kind").text
    screenshot(page, "cohorts-and-posteriors")
    choose(page, "res-folder", "posterior")
    wait_for(lambda: "msc_mv_rate" in page.find_element(By.ID, "res-table").text,
             what="the posterior's quantiles")
