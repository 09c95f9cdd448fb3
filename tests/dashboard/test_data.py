"""The dashboard's tables and series, without a browser."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evniche.dashboard import data
from evniche.dashboard.app import check_host
from evniche.errors import EvnicheError


def test_runs_table_lists_the_complete_run(registry: Path) -> None:
    rows = data.runs_table(registry)
    assert [r["model"] for r in rows] == ["healthy"]
    assert data.runs_table(registry, "aml") == []
    assert data.run_folder(rows[0]["id"], registry) == registry / "healthy-5d"


def test_an_unknown_run_id_is_refused(registry: Path) -> None:
    with pytest.raises(EvnicheError, match="no complete run 'nope'"):
        data.run_folder("nope", registry)


def test_series_follow_the_trajectory(registry: Path) -> None:
    ds = data.load_run(data.runs_table(registry)[0]["id"], registry)
    cells = data.series(ds, "cells")
    t, hsc = cells["HSC"]
    assert np.array_equal(t, ds["time"].values)
    assert np.array_equal(hsc, ds["cells"].sel(cell_type="HSC").values)
    plasma = data.series(ds, "plasma EVs")
    assert set(plasma) == {str(p) for p in ds["pool"].values}
    assert data.series(ds, "marrow blasts %") == {}  # the healthy model has no blasts
    with pytest.raises(EvnicheError, match="unknown series"):
        data.series(ds, "nonsense")


def test_parameters_table_gives_ranges_in_the_file_unit() -> None:
    import evniche

    model = evniche.load_model("healthy")
    rows = {r["name"]: r for r in data.parameters_table(model)}
    item = model.params.resolved["hsc_count"] if "hsc_count" in model.params.resolved \
        else next(p for p in model.params.resolved.values() if p.range)
    row = next(r for r in rows.values() if r["value"] == item.value_in_unit
               and r["unit"] == item.unit)
    factor = item.value / item.value_in_unit
    assert row["low"] == pytest.approx(item.range[0] / factor)
    assert row["high"] == pytest.approx(item.range[1] / factor)
    assert row["source"]


def test_communication_edges_are_sorted_and_linked_to_records(registry: Path) -> None:
    ds = data.load_run(data.runs_table(registry)[0]["id"], registry)
    edges = data.communication_edges(ds, top=5)
    values = [e["evs_per_day"] for e in edges]
    assert values == sorted(values, reverse=True) and len(edges) <= 5
    assert all(v > 0 for v in values)


def test_deliveries_by_class_add_up_to_the_communication(registry: Path) -> None:
    ds = data.load_run(data.runs_table(registry)[0]["id"], registry)
    classes = data.ev_classes(ds)
    assert len(classes) >= 2
    total = sum(data.deliveries(ds, c).reindex_like(ds["communication"]).fillna(0.0)
                for c in classes)
    np.testing.assert_allclose(total.values, ds["communication"].clip(min=0).values,
                               rtol=1e-9, atol=1e-6)
    one = data.communication_edges(ds, ev_class=classes[0], top=100)
    every = {(e["source"], e["target"]): e["evs_per_day"]
             for e in data.communication_edges(ds, top=100)}
    assert all(e["evs_per_day"] <= every[(e["source"], e["target"])] * (1 + 1e-9)
               for e in one)
    with pytest.raises(EvnicheError, match="no nonsense pools"):
        data.deliveries(ds, "nonsense")


def test_records_for_edge_match_the_knowledge_base() -> None:
    kb = data._kb()
    rid, rec = next(iter(kb.effects.items()))
    assert rid in data.records_for_edge(rec.source.cell_type, rec.target.cell_type, limit=500)


def test_search_needs_every_word_and_flags_retractions() -> None:
    everything = data.search_records("", limit=10_000)
    retracted = [r for r in everything if r["status"] == "retracted"]
    assert retracted, "the knowledge base holds retracted records (Gu 2016)"
    hit = data.search_records(retracted[0]["id"])
    assert hit[0]["id"] == retracted[0]["id"]
    assert data.search_records("zzz-no-such-word") == []
    detail = data.record_detail(retracted[0]["id"])
    assert detail["retraction"].startswith("retracted ")


def test_intervention_text_is_the_cli_form() -> None:
    assert data.intervention_text("nsmase2_inhibitor", 30, {"efficacy": "0.4"}) == \
        "nsmase2_inhibitor@30:efficacy=0.4"
    with pytest.raises(EvnicheError, match="≥ 0"):
        data.intervention_text("nsmase2_inhibitor", -1)


def test_scenario_table_names_kind_and_model() -> None:
    rows = data.scenario_table()
    assert {r["kind"] for r in rows} <= {"finding", "proposal"}
    assert any(r["kind"] == "proposal" for r in rows)


@pytest.mark.parametrize("host,warns", [("127.0.0.1", False), ("localhost", False),
                                        ("::1", False), ("0.0.0.0", True),
                                        ("192.168.1.5", True)])
def test_only_loopback_hosts_go_without_a_warning(host: str, warns: bool) -> None:
    assert (check_host(host) is not None) == warns


def test_result_tables_of_a_cohort_and_a_posterior(results, tmp_path: Path) -> None:
    cohort, posterior = results
    kind, rows = data.result_table(cohort)
    assert kind == "cohort" and rows[0]["biomarker"] == "qPCR miR-155"
    assert rows[0]["auc"] == 0.9 and rows[0]["ci_low"] == 0.85
    kind, rows = data.result_table(posterior)
    assert kind == "posterior"
    (row,) = rows
    assert row["parameter"] == "msc_mv_rate" and row["unit"] == "EV/cell/h"
    assert row["q5"] <= row["q25"] <= row["q50"] <= row["q75"] <= row["q95"]
    assert 1.0 <= row["q5"] and row["q95"] <= 5.0
    assert row["q50"] == pytest.approx(3.0, abs=0.5)  # the middle of 1…5, equal weights
    with pytest.raises(EvnicheError, match="neither a cohort folder"):
        data.result_table(tmp_path)
