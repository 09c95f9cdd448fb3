"""The dashboard's page: five views (Runs, Explore, Who talks to whom, Knowledge base,
Scenarios) built with Dash, and the server that shows them.

Dash (Plotly's framework for data apps) is used because the reports already speak Plotly's
figure language (zoom, hover, log axes come with every graph), its callbacks are plain
Python functions that can be tested without a browser, and it runs on Flask's development
server for one local user. Long work (runs, scenarios) goes to :class:`.jobs.Jobs`; the page
polls it with an interval timer and never waits on a simulation.

Security: the page names presets, registry run ids and catalog entries only, never a file
path; nothing typed on the page is evaluated as code (numbers are parsed as numbers,
interventions by the same parser as ``--intervene``); the server binds 127.0.0.1 unless
told otherwise (:func:`check_host` warns when it is told otherwise).
"""

from __future__ import annotations

import ipaddress
import math
import threading
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from dash import Dash, Input, Output, State, dash_table, dcc, html, no_update

from ..errors import EvnicheError
from . import data
from .jobs import Jobs

#: how often the page asks a running job how far it is (ms)
POLL_MS = 500
DEFAULT_DAYS = 120.0


def check_host(host: str) -> str | None:
    """A warning when ``host`` is not a loopback address (None when it is)."""
    if host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    return (f"warning: the dashboard is bound to {host}, not to 127.0.0.1: anyone who can "
            f"reach this machine on that interface can use it and run simulations on it")


def _number(text: Any, what: str) -> float:
    """``text`` as a finite number, or an EvnicheError naming ``what``."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise EvnicheError(f"{what}: expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise EvnicheError(f"{what}: expected a finite number, got {text!r}")
    return value


def _figure(lines: dict[str, tuple[Any, Any]], title: str, log: bool,
            dashed: set[str] = frozenset()) -> go.Figure:
    fig = go.Figure()
    for name, (t, y) in lines.items():
        fig.add_trace(go.Scatter(x=t, y=y, mode="lines", name=name,
                                 line={"dash": "dash" if name in dashed else "solid"}))
    fig.update_layout(title=title, xaxis_title="day", margin={"l": 60, "r": 20, "t": 50,
                                                              "b": 40},
                      height=460, legend={"font": {"size": 10}})
    fig.update_yaxes(type="log" if log else "linear")
    return fig


def _network_figure(edges: list[dict[str, Any]]) -> go.Figure:
    """Cell types on a circle, one arrow per source → target delivery (width ~ log EV/day)."""
    nodes = sorted({e["source"] for e in edges} | {e["target"] for e in edges})
    pos = {n: (math.cos(2 * math.pi * i / max(len(nodes), 1)),
               math.sin(2 * math.pi * i / max(len(nodes), 1))) for i, n in enumerate(nodes)}
    fig = go.Figure()
    top = max((e["evs_per_day"] for e in edges), default=1.0)
    for e in edges:
        (x0, y0), (x1, y1) = pos[e["source"]], pos[e["target"]]
        width = 1 + 5 * max(math.log10(e["evs_per_day"] / top) + 6, 0) / 6
        fig.add_annotation(x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x",
                           ayref="y", showarrow=True, arrowhead=3, arrowwidth=width,
                           opacity=0.5, arrowcolor="#3366aa")
    fig.add_trace(go.Scatter(
        x=[pos[n][0] for n in nodes], y=[pos[n][1] for n in nodes], mode="markers+text",
        text=nodes, textposition="top center", marker={"size": 16, "color": "#cc5533"},
        hovertext=[f"{n}: sends {sum(e['evs_per_day'] for e in edges if e['source'] == n):.3g}"
                   f" EV/day" for n in nodes], hoverinfo="text", showlegend=False))
    fig.update_layout(height=520, xaxis={"visible": False}, yaxis={"visible": False},
                      margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      title="who sends EVs to whom (arrow width ~ log EV/day)")
    return fig


def _table(id_: str, columns: list[str], **kw: Any) -> dash_table.DataTable:
    return dash_table.DataTable(
        id=id_, columns=[{"name": c, "id": c} for c in columns], data=[], page_size=12,
        sort_action="native", filter_action="native",
        style_cell={"textAlign": "left", "fontSize": 12, "whiteSpace": "normal",
                    "height": "auto", "maxWidth": 420}, **kw)


def _layout(presets: list[str], interventions: list[str], results: list[Path]
            ) -> html.Div:
    runs = html.Div([
        html.Div([dcc.Dropdown(id="runs-model", options=presets, placeholder="all models",
                               style={"width": 240}),
                  html.Button("refresh", id="runs-refresh")],
                 style={"display": "flex", "gap": 8}),
        _table("runs-table", ["id", "created", "model", "engine", "days", "seed",
                              "wall_seconds"], row_selectable="multi"),
        html.Div([dcc.Dropdown(id="runs-series", options=list(data.SERIES), value="cells",
                               clearable=False, style={"width": 240}),
                  dcc.Checklist(id="runs-log", options=["log scale"], value=["log scale"])],
                 style={"display": "flex", "gap": 8}),
        dcc.Graph(id="runs-graph"),
    ])
    explore = html.Div([
        html.Div([
            html.Label("model"), dcc.Dropdown(id="ex-model", options=presets,
                                              value="aml" if "aml" in presets else presets[0],
                                              clearable=False, style={"width": 200}),
            html.Label("days"), dcc.Input(id="ex-days", type="number", value=DEFAULT_DAYS,
                                          min=1, style={"width": 90}),
        ], style={"display": "flex", "gap": 8, "alignItems": "center"}),
        html.Div([
            html.Label("parameter"), dcc.Dropdown(id="ex-param", style={"width": 320}),
            html.Label("value"), dcc.Input(id="ex-value", type="number",
                                           style={"width": 120}),
        ], style={"display": "flex", "gap": 8, "alignItems": "center"}),
        html.Div(id="ex-provenance", style={"fontSize": 12, "color": "#555"}),
        html.Div([
            html.Label("intervention"), dcc.Dropdown(id="ex-intervention",
                                                     options=interventions,
                                                     style={"width": 260}),
            html.Label("day"), dcc.Input(id="ex-int-day", type="number", value=30, min=0,
                                         style={"width": 80}),
            html.Label("options"), dcc.Input(id="ex-int-options", type="text",
                                             placeholder="key=value,… e.g. dose=2",
                                             style={"width": 220}),
        ], style={"display": "flex", "gap": 8, "alignItems": "center"}),
        html.Div(id="ex-int-doc", style={"fontSize": 12, "color": "#555"}),
        html.Button("run", id="ex-run"),
        html.Progress(id="ex-progress", value="0", max="1", style={"width": 300}),
        html.Span(id="ex-status"),
        dcc.Store(id="ex-job"),
        dcc.Interval(id="ex-poll", interval=POLL_MS, disabled=True),
        html.Div([dcc.Dropdown(id="ex-series", options=list(data.SERIES), value="cells",
                               clearable=False, style={"width": 240}),
                  dcc.Checklist(id="ex-log", options=["log scale"], value=["log scale"])],
                 style={"display": "flex", "gap": 8}),
        dcc.Store(id="ex-result"),
        dcc.Graph(id="ex-graph"),
    ])
    talks = html.Div([
        html.Div([dcc.Dropdown(id="talk-run", placeholder="a run from the registry",
                               style={"width": 420}),
                  html.Label("day"), dcc.Input(id="talk-day", type="number",
                                               placeholder="end", style={"width": 90}),
                  html.Label("EV class"), dcc.Dropdown(id="talk-class", placeholder="all",
                                                       style={"width": 200})],
                 style={"display": "flex", "gap": 8, "alignItems": "center"}),
        dcc.Graph(id="talk-graph"),
        _table("talk-table", ["source", "target", "evs_per_day", "cargo", "records"]),
        html.Div(id="talk-records"),
    ])
    kb = html.Div([
        dcc.Input(id="kb-search", type="text", placeholder="search records (e.g. miR-155)",
                  debounce=True, style={"width": 400}),
        _table("kb-table", ["id", "kind", "title", "status"],
               style_data_conditional=[{"if": {"filter_query": '{status} = "retracted"'},
                                        "backgroundColor": "#fde0dc"}]),
        html.Div(id="kb-detail"),
    ])
    scen = html.Div([
        _table("sc-table", ["name", "model", "kind", "finding", "kb"],
               row_selectable="single"),
        html.Button("run the selected scenario", id="sc-run"),
        html.Span(id="sc-status"),
        dcc.Store(id="sc-job"),
        dcc.Interval(id="sc-poll", interval=POLL_MS, disabled=True),
        _table("sc-result", ["scenario", "readout", "expected", "control", "treatment",
                             "effect", "verdict", "error"]),
    ])
    res = html.Div([
        dcc.Dropdown(id="res-folder", options=[{"label": str(f), "value": i}
                                               for i, f in enumerate(results)],
                     placeholder=("a cohort or calibration folder" if results else
                                  "none given: start with --results DIR"),
                     style={"width": 600}),
        html.Div(id="res-kind"),
        _table("res-table", []),
    ])
    tabs = dcc.Tabs(id="tabs", value="runs", children=[
        dcc.Tab(label="Runs", value="runs", children=runs),
        dcc.Tab(label="Explore", value="explore", children=explore),
        dcc.Tab(label="Who talks to whom", value="talks", children=talks),
        dcc.Tab(label="Knowledge base", value="kb", children=kb),
        dcc.Tab(label="Scenarios", value="scenarios", children=scen),
        dcc.Tab(label="Cohorts & posteriors", value="results", children=res),
    ])
    return html.Div([html.H2("evniche"), html.Div(id="error", style={"color": "#b00"}),
                     tabs], style={"fontFamily": "sans-serif", "margin": 16})


def build_app(registry: str | Path | None = None,
              results: list[str | Path] | None = None) -> Dash:
    """The dashboard for the run registry ``registry`` (None: the default registry) and
    the cohort and calibration folders ``results`` (named at start-up: the page picks one
    of them by its position, never by a path)."""
    from ..spec.loader import load_model, preset_names
    from ..store.runs import registry_path, write_run

    presets = preset_names()
    app = Dash(__name__, title="evniche", suppress_callback_exceptions=True)
    folders = [Path(f) for f in results or []]
    for folder in folders:
        data.result_kind(folder)  # refuse a folder that is neither, before serving
    app.layout = _layout(presets, data.intervention_names(), folders)
    jobs = Jobs()
    app.evniche_jobs = jobs  # for shutdown by the server
    runs_folder = registry_path(registry).parent / "dashboard-runs"

    # ---------------------------------------------------------------- Runs
    @app.callback(Output("runs-table", "data"), Output("talk-run", "options"),
                  Input("runs-refresh", "n_clicks"), Input("runs-model", "value"),
                  Input("tabs", "value"))
    def runs_rows(_clicks, model, _tab):
        rows = data.runs_table(registry, model)
        for r in rows:
            r["wall_seconds"] = (round(r["wall_seconds"], 2) if r["wall_seconds"] is not None
                                 else None)
        options = [{"label": f"{r['model']} — {r['id']}", "value": r["id"]}
                   for r in data.runs_table(registry)]
        return rows, options

    @app.callback(Output("runs-graph", "figure"), Input("runs-table", "derived_virtual_data"),
                  Input("runs-table", "derived_virtual_selected_rows"),
                  Input("runs-series", "value"), Input("runs-log", "value"))
    def runs_figure(rows, selected, what, log):
        lines: dict[str, tuple[Any, Any]] = {}
        for i in selected or []:
            run_id = rows[i]["id"]
            ds = data.load_run(run_id, registry)
            for name, line in data.series(ds, what).items():
                lines[f"{rows[i]['model']} {run_id[-6:]}: {name}"] = line
        title = data.SERIES[what] if lines else "select one or more runs in the table"
        return _figure(lines, title, bool(log))

    # ---------------------------------------------------------------- Explore
    @app.callback(Output("ex-param", "options"), Input("ex-model", "value"))
    def explore_parameters(model):
        rows = data.parameters_table(load_model(model))
        return [{"label": r["name"], "value": r["name"]} for r in rows
                if r["low"] is not None and not r["formula"]]

    @app.callback(Output("ex-provenance", "children"), Output("ex-value", "value"),
                  Input("ex-param", "value"), State("ex-model", "value"))
    def explore_provenance(name, model):
        if not name:
            return "", None
        row = {r["name"]: r for r in data.parameters_table(load_model(model))}[name]
        return (f"{row['value']:g} {row['unit']} (plausible {row['low']:g}–{row['high']:g}); "
                f"source: {row['source']}"), row["value"]

    @app.callback(Output("ex-int-doc", "children"), Input("ex-intervention", "value"))
    def explore_intervention_doc(name):
        if not name:
            return ""
        from ..compile.interventions import lookup

        kind = lookup(name)
        options = "; ".join(f"{o.name} ({o.unit or o.kind}"
                            + (f", default {o.default}" if o.default is not None else "")
                            + ")" for o in kind.options)
        return f"{kind.summary}. Options: {options or 'none'}. Source: {kind.source}"

    @app.callback(Output("ex-job", "data"), Output("ex-poll", "disabled"),
                  Output("error", "children"),
                  Input("ex-run", "n_clicks"), State("ex-model", "value"),
                  State("ex-days", "value"), State("ex-param", "value"),
                  State("ex-value", "value"), State("ex-intervention", "value"),
                  State("ex-int-day", "value"), State("ex-int-options", "value"),
                  prevent_initial_call=True)
    def explore_run(_clicks, model, days, param, value, intervention, int_day, int_options):
        try:
            days = _number(days, "days")
            overrides = {}
            if param:
                overrides[f"parameters.{param}.value"] = _number(value, f"value of {param}")
            interventions = []
            if intervention:
                options = dict(item.split("=", 1) for item in (int_options or "").split(",")
                               if "=" in item)
                text = data.intervention_text(intervention, _number(int_day, "day"),
                                              {k.strip(): v.strip()
                                               for k, v in options.items()})
                from ..compile.interventions import parse_intervention

                interventions = [parse_intervention(text)]
            changed = load_model(model, overrides=overrides or None)
            baseline = load_model(model)
        except EvnicheError as exc:
            return no_update, True, f"error: {exc}"
        job = jobs.submit(f"{model} for {days:g} days",
                          lambda progress: _explore_work(progress, baseline, changed, days,
                                                         interventions, runs_folder,
                                                         registry, write_run))
        return job, False, ""

    @app.callback(Output("ex-progress", "value"), Output("ex-status", "children"),
                  Output("ex-result", "data"), Output("ex-poll", "disabled",
                                                      allow_duplicate=True),
                  Input("ex-poll", "n_intervals"), State("ex-job", "data"),
                  prevent_initial_call=True)
    def explore_poll(_n, job_id):
        if not job_id:
            return "0", "", no_update, True
        job = jobs.get(job_id)
        if job.status == "done":
            return "1", f"done: {job.label}", job.result, True
        if job.status == "failed":
            return str(job.progress), f"failed: {job.error}", no_update, True
        return str(job.progress), f"{job.status}: {job.label} ({100 * job.progress:.0f} %)", \
            no_update, False

    @app.callback(Output("ex-graph", "figure"), Input("ex-result", "data"),
                  Input("ex-series", "value"), Input("ex-log", "value"))
    def explore_figure(result, what, log):
        if not result:
            return _figure({}, "run a model to see it beside its baseline", bool(log))
        runs = {label: data.series(data.load_run(result[label], registry), what)
                for label in ("baseline", "changed")}
        lines: dict[str, tuple[Any, Any]] = {}  # each baseline line beside its changed one
        for name in dict.fromkeys([*runs["baseline"], *runs["changed"]]):
            for label, named in runs.items():
                if name in named:
                    lines[f"{label}: {name}"] = named[name]
        dashed = {key for key in lines if key.startswith("baseline: ")}
        return _figure(lines, f"{data.SERIES[what]} — {result['summary']}", bool(log),
                       dashed)

    # ---------------------------------------------------------------- who talks to whom
    @app.callback(Output("talk-graph", "figure"), Output("talk-table", "data"),
                  Output("talk-class", "options"),
                  Input("talk-run", "value"), Input("talk-day", "value"),
                  Input("talk-class", "value"))
    def talks(run_id, day, ev_class):
        if not run_id:
            return _network_figure([]), [], []
        ds = data.load_run(run_id, registry)
        classes = data.ev_classes(ds)
        edges = data.communication_edges(ds, day=float(day) if day is not None else None,
                                         ev_class=ev_class if ev_class in classes else None)
        rows = [{**e, "evs_per_day": float(f"{e['evs_per_day']:.4g}")} for e in edges]
        return _network_figure(edges), rows, classes

    @app.callback(Output("talk-records", "children"), Input("talk-table", "active_cell"),
                  State("talk-table", "derived_viewport_data"))
    def talk_records(cell, rows):
        if not cell or not rows:
            return "click an edge's row to see the records that justify it"
        ids = [i.strip() for i in rows[cell["row"]]["records"].split(",") if i.strip()]
        if not ids:
            return "no knowledge-base record names this source and target"
        return [_record_view(data.record_detail(i)) for i in ids]

    # ---------------------------------------------------------------- knowledge base
    @app.callback(Output("kb-table", "data"), Input("kb-search", "value"))
    def kb_rows(text):
        return data.search_records(text or "")

    @app.callback(Output("kb-detail", "children"), Input("kb-table", "active_cell"),
                  State("kb-table", "derived_viewport_data"))
    def kb_detail(cell, rows):
        if not cell or not rows:
            return ""
        return _record_view(data.record_detail(rows[cell["row"]]["id"]))

    # ---------------------------------------------------------------- scenarios
    @app.callback(Output("sc-table", "data"), Input("sc-table", "id"))
    def scenario_rows(_mounted):
        return data.scenario_table()

    @app.callback(Output("sc-job", "data"), Output("sc-poll", "disabled"),
                  Input("sc-run", "n_clicks"), State("sc-table", "derived_virtual_data"),
                  State("sc-table", "derived_virtual_selected_rows"),
                  prevent_initial_call=True)
    def scenario_run(_clicks, rows, selected):
        if not selected:
            return no_update, True
        name = rows[selected[0]]["name"]

        def work(progress):
            from ..experiments.catalog import catalog
            from ..experiments.scenarios import run_scenario

            result = run_scenario(catalog()[name])
            return data.scenario_result_row(result)

        return jobs.submit(f"scenario {name}", work), False

    @app.callback(Output("sc-status", "children"), Output("sc-result", "data"),
                  Output("sc-poll", "disabled", allow_duplicate=True),
                  Input("sc-poll", "n_intervals"), State("sc-job", "data"),
                  State("sc-result", "data"), prevent_initial_call=True)
    def scenario_poll(_n, job_id, shown):
        if not job_id:
            return "", no_update, True
        job = jobs.get(job_id)
        if job.status == "done":
            row = {k: (float(f"{v:.4g}") if isinstance(v, float) and math.isfinite(v) else v)
                   for k, v in job.result.items()}
            return f"done: {job.label}", [row, *(shown or [])], True
        if job.status == "failed":
            return f"failed: {job.error}", no_update, True
        return f"{job.status}: {job.label}", no_update, False

    # ---------------------------------------------------------------- cohorts & posteriors
    @app.callback(Output("res-kind", "children"), Output("res-table", "data"),
                  Output("res-table", "columns"), Input("res-folder", "value"))
    def result_rows(index):
        if index is None or not 0 <= int(index) < len(folders):
            return "", [], []
        kind, rows = data.result_table(folders[int(index)])
        title = ("virtual cohort: ROC AUC per biomarker with its 95 % bootstrap interval"
                 if kind == "cohort" else
                 "calibration posterior: weighted quantiles of each parameter")
        columns = [{"name": c, "id": c} for c in (rows[0] if rows else {})]
        return title, rows, columns

    return app


def _record_view(detail: dict[str, Any]) -> html.Div:
    """One knowledge-base record: title, status (retraction in red), quotes and references."""
    parts: list[Any] = [html.H4(f"{detail['id']}: {detail['title']}"),
                        html.Div(f"{detail['kind']} · {detail['status']}")]
    if detail["retraction"]:
        parts.append(html.Div(detail["retraction"], style={"color": "#b00"}))
    if detail["description"]:
        parts.append(html.P(detail["description"]))
    for e in detail["evidence"]:
        parts.append(html.Blockquote(f"“{e['quote']}” — seed {e['seed']} [{e['refs']}] "
                                     f"{e['author']}"))
        if e["citation_problem"]:
            parts.append(html.Div(f"citation problem: {e['citation_problem']}",
                                  style={"color": "#a60"}))
    return html.Div(parts, style={"borderTop": "1px solid #ccc", "marginTop": 8})


def _explore_work(progress, baseline, changed, days, interventions, folder, registry,
                  write_run) -> dict[str, str]:
    """Run the baseline and the changed model (the first half and second half of the
    progress bar) and register both; their run ids and a one-line summary."""
    import time
    import uuid

    from .. import engines

    ids = {}
    for k, (label, model, its) in enumerate((("baseline", baseline, []),
                                            ("changed", changed, interventions))):
        start = time.perf_counter()
        ds = engines.simulate(model, days=days, interventions=its,
                              progress=lambda f, k=k: progress(0.5 * (k + f)))
        out = folder / f"{model.name}-{label}-{uuid.uuid4().hex[:8]}"
        record = write_run(ds, out, model, 0, ["evniche dashboard", label],
                           time.perf_counter() - start, registry=registry)
        ids[label] = record["id"]
    names = ", ".join(f"{i['name']}@{i['start']:g}" for i in interventions)
    return {**ids, "summary": f"{changed.name}, {days:g} days"
            + (f", {names}" if names else "")}


def serve(app: Dash, host: str = "127.0.0.1", port: int = 8050):
    """Start serving ``app`` in a background thread; the server (``shutdown()`` stops it).
    ``port`` 0 picks a free port (``server.port``)."""
    from werkzeug.serving import make_server

    server = make_server(host, port, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server
