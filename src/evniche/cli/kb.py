"""``evniche kb``: summarize, list, show and export the cited knowledge base.

Commands: ``summary`` (counts by disease, source, target, cargo kind, mode and record kind),
``list`` (one line per record, filtered by source, target, cargo, disease, kind; synonyms
accepted), ``show ID`` (every field, evidence and status; retracted records say so) and
``export --format json|csv|graphml [--out FILE]``. Unknown terms and ids raise
:class:`evniche.errors.EvnicheError` with suggestions (the main CLI prints it, exit 2).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ..errors import EvnicheError
from ..knowledge import load
from ..knowledge.base import KnowledgeBase
from ..knowledge.export import FORMATS, render, to_graph
from ..knowledge.records import RECORD_KINDS, EffectRecord, Evidence, RecordBase

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Query the cited knowledge base of both seed reviews.")

_KINDS_HELP = ", ".join(RECORD_KINDS) + ", all"


def _console() -> Console:
    return Console(soft_wrap=True, highlight=False)


def _count_table(title: str, counts: Counter[str], label: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(label)
    table.add_column("records", justify="right")
    for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        table.add_row(key, str(n))
    return table


@app.command()
def summary() -> None:
    """Counts of effect records by disease, source, target, cargo kind and mode; records by
    kind."""
    kb = load()
    effects = list(kb.effects.values())
    voc = kb.vocabulary
    cargo_kinds: Counter[str] = Counter()
    for effect in effects:
        kinds = {voc.terms_by_kind["cargo"][c].cargo_kind or "?" for c in effect.cargo}
        cargo_kinds.update(kinds or {"none"})
    status = Counter(r.status for r in kb.records.values())
    console = _console()
    console.print(f"[bold]{len(effects)} effect records[/] "
                  f"({len(kb.records)} records of all kinds; "
                  + ", ".join(f"{n} {s}" for s, n in sorted(status.items())) + ")")
    _print_coverage(console, kb)
    console.print(_count_table("Effects by disease", Counter(e.disease for e in effects),
                               "disease"))
    console.print(_count_table("Effects by source cell type",
                               Counter(e.source.cell_type for e in effects), "source"))
    console.print(_count_table("Effects by target cell type",
                               Counter(e.target.cell_type for e in effects), "target"))
    console.print(_count_table("Effects by cargo kind (a record counts once per kind)",
                               cargo_kinds, "cargo kind"))
    console.print(_count_table("Effects by mode", Counter(e.mode for e in effects), "mode"))
    console.print(_count_table("Records by kind",
                               Counter(getattr(r, "kind", "?") for r in kb.records.values()),
                               "kind"))


def _print_coverage(console: Console, kb: KnowledgeBase) -> None:
    """The share of effect records that drive a rule of some shipped preset, per disease."""
    from ..knowledge.coverage import effect_coverage, preset_rule_citations

    rows = effect_coverage(kb, preset_rule_citations())
    overall = rows[-1]
    console.print(f"[bold]{overall.used} of {overall.total} effect records "
                  f"({100 * overall.share:.0f} %) drive a rule of some shipped preset[/] "
                  "(retracted records left out)")
    table = Table(title="Effects used by the shipped presets, by disease", title_justify="left")
    for col in ("disease", "used", "records", "share"):
        table.add_column(col, justify="left" if col == "disease" else "right")
    for row in rows:
        table.add_row(row.disease, str(row.used), str(row.total), f"{100 * row.share:.0f} %")
    console.print(table)
    problems = sum(1 for r in kb.records.values() for ev in r.evidences() if ev.citation_problem)
    if problems:
        console.print(f"{problems} evidence entries carry a citation problem of the review "
                      "found on audit (shown by `evniche kb show ID`)")


def _line(record: RecordBase) -> str:
    if isinstance(record, EffectRecord):
        src = record.source.cell_type + (f" [{record.source.state}]" if record.source.state else "")
        tgt = record.target.cell_type + (f" [{record.target.state}]" if record.target.state else "")
        cargo = ", ".join(record.cargo) or "-"
        flag = f"  ({record.status.upper()})" if record.status in ("retracted",
                                                                     "hypothesis") else ""
        return (f"{record.id}  {src} → {tgt}  cargo: {cargo}  "
                f"effect: {record.effect.what} {record.effect.direction}  "
                f"disease: {record.disease}{flag}")
    flag = "  (RETRACTED)" if record.status == "retracted" else ""
    return f"{record.id}  [{getattr(record, 'kind', '?')}] {record.title()}{flag}"


@app.command("list")
def list_records(
    source: Annotated[str | None, typer.Option(help="source cell type (synonyms ok)")] = None,
    target: Annotated[str | None, typer.Option(help="target cell type (synonyms ok)")] = None,
    cargo: Annotated[str | None, typer.Option(help="cargo (synonyms ok, e.g. SDF-1)")] = None,
    disease: Annotated[str | None, typer.Option(help="disease (synonyms ok)")] = None,
    kind: Annotated[str, typer.Option(help=f"record kind: {_KINDS_HELP}")] = "effect",
    exact: Annotated[bool, typer.Option(
        help="match the term only, not the terms below it (ALL without B-ALL/T-ALL)")] = False,
) -> None:
    """One line per record: id, source → target, cargo, effect, disease."""
    kb = load()
    chosen_kind = _check_kind(kind)
    found = kb.select(chosen_kind, source=source, target=target, cargo=cargo,
                      disease=disease, exact=exact)
    for record in found:
        typer.echo(_line(record))
    if not found:
        typer.echo("no matching records", err=True)


def _check_kind(kind: str) -> str | None:
    if kind == "all":
        return None
    if kind not in RECORD_KINDS:
        import difflib

        close = difflib.get_close_matches(kind, [*RECORD_KINDS, "all"], n=3)
        hint = f"; did you mean: {', '.join(close)}?" if close else ""
        raise EvnicheError(f"unknown record kind '{kind}'{hint} (expected one of {_KINDS_HELP})")
    return kind


def _evidence_lines(label: str, ev: Evidence) -> list[str]:
    refs = ", ".join(str(r) for r in ev.refs) or "none printed"
    who = ", ".join(str(x) for x in (ev.first_author, ev.year) if x)
    where = "" if ev.where == "body" else f" ({ev.where.replace('_', ' ')})"
    lines = [f"{label}: seed {ev.seed}{where}; refs [{refs}]" + (f"; {who}" if who else ""),
             f"  quote: “{ev.quote}”"]
    if ev.citation_problem:
        lines.append(f"  citation problem (audit): {ev.citation_problem}")
    return lines


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_value(v)}" for k, v in value.items() if v not in (None, [], ""))
    if isinstance(value, list):
        return "; ".join(_value(v) for v in value) or "-"
    return str(value)


def _show_lines(kb: KnowledgeBase, record: RecordBase) -> list[str]:
    lines = [f"id: {record.id}", f"kind: {getattr(record, 'kind', '?')}"]
    if record.status == "retracted" and record.retraction is not None:
        r = record.retraction
        lines.insert(0, f"RETRACTED ({r.date.isoformat()}, doi:{r.doi}): {r.notice}")
    data = record.model_dump(exclude={"id", "kind", "evidence", "more_evidence", "retraction",
                                      "notes"}, exclude_none=True)
    if isinstance(record, EffectRecord):
        lines.append(f"summary: {record.title()}")
    for key, value in data.items():
        if key == "size_ranges":
            for sr in value:
                lo = "" if sr.get("min_nm") is None else f"{sr['min_nm']:g}–"
                lines.append(f"size: {lo}{sr['max_nm']:g} nm  (seed {sr['evidence']['seed']}: "
                             f"“{sr['evidence']['quote']}”)")
            continue
        if value in ([], ""):
            continue
        lines.append(f"{key}: {_value(value)}")
    lines += _evidence_lines("evidence", record.evidence)
    for i, ev in enumerate(record.more_evidence, 1):
        lines += _evidence_lines(f"more evidence {i}", ev)
    if record.notes:
        lines.append(f"notes: {record.notes}")
    lines.append(f"file: {kb.files.get(record.id, '?')}")
    return lines


@app.command()
def show(record_id: Annotated[str, typer.Argument(help="record id")]) -> None:
    """Every field of one record, with its evidence and status."""
    kb = load()
    record = kb.get(record_id)  # UnknownRecordError is an EvnicheError with close ids
    console = _console()
    for line in _show_lines(kb, record):
        if line.startswith("RETRACTED"):
            console.print(f"[bold red]{line}[/]", markup=True)
        elif line.startswith("status: retracted"):
            console.print("[bold red]status: retracted (RETRACTED)[/]")
        else:
            console.print(line, markup=False)


@app.command()
def export(
    format: Annotated[str, typer.Option(
        "--format", "-f", help="json (all records), csv (effects), graphml")] = "json",
    out: Annotated[Path | None, typer.Option("--out", "-o",
                                             help="file to write (stdout if omitted)")] = None,
) -> None:
    """Export the knowledge base (json: all records; csv: one row per effect; graphml: cell
    type → cell type multigraph, one edge per effect)."""
    if format not in FORMATS:
        raise EvnicheError(f"unknown export format '{format}'; expected one of "
                           f"{', '.join(FORMATS)}")
    kb = load()
    if out is not None and format == "graphml":
        import networkx as nx

        nx.write_graphml(to_graph(kb), out)
    elif out is not None:
        out.write_text(render(kb, format), encoding="utf-8")
    else:
        typer.echo(render(kb, format), nl=False)
    if out is not None:
        typer.echo(f"wrote {out}", err=True)
