"""Leave one out: is a finding still reproduced when its own observations are left out of
the fit? (docs/calibration.md, "Leave one out")

A finding (:class:`evniche.experiments.scenarios.Scenario` of kind "finding") names in
``observations`` the observation records that state the same published result, linked by
hand against the record's source. A posterior fitted to those records cannot show that the
model reproduces the finding from its mechanisms: the fit may have pulled the parameters
towards it. So each finding answered over a posterior whose fit contains its records is
answered again over the *leave-one-out posterior*: the same calibration (the same model,
free parameters, priors, population, generations, run length, the same records and
sampler) without the finding's records. A finding whose records are not in the fit (most
of them) has nothing to leave out: its verdict does not rest on them.

Leave-one-out posteriors of a shipped posterior ship next to it, in
``evniche/posteriors/PRESET/leave-one-out/FINDING/`` (``evniche calibrate PRESET --ship
--leave-one-out``, run by ``make posteriors``); :func:`without` uses one there when it
still fits (the preset's digest, the base fit's records less the finding's and the same
budget), else refits into ``build/posteriors/`` (resumable, like ``--ship``).
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import EvnicheError
from .scenarios import Scenario

#: subfolder of a shipped posterior holding its leave-one-out posteriors, one per finding
FOLDER = "leave-one-out"
#: the line every table prints for a finding whose records are not in the fit
NOT_IN_FIT = "its observation is not in the fit: the verdict does not rest on it"


def check_links(scenarios: Iterable[Scenario], records: Iterable | None = None) -> None:
    """Every id a scenario links (``Scenario.observations``) names an observation record
    (``records``; default: the shipped ones); else an EvnicheError naming the scenario."""
    from ..observations import load

    known = {r.id for r in (load() if records is None else records)}
    for s in scenarios:
        for oid in s.observations:
            if oid not in known:
                raise EvnicheError(f"scenario '{s.name}': observation '{oid}' is not an "
                                   "observation record (Scenario.observations names the ids "
                                   "of the records that state the finding's published "
                                   "result; see `evniche observations list`)")


def fit_ids(meta: dict | None) -> list[str]:
    """The ids of the records a posterior was fitted to (its ``posterior.json``)."""
    return [str(o.get("id")) for o in (meta or {}).get("observations") or []
            if isinstance(o, dict)]


def in_fit(scenario: Scenario, meta: dict | None) -> tuple[str, ...]:
    """The scenario's linked records that are in the fit of the posterior ``meta``."""
    fitted = set(fit_ids(meta))
    return tuple(o for o in scenario.observations if o in fitted)


def read_meta(folder: str | Path | None) -> dict | None:
    """``folder/posterior.json`` (None for no folder)."""
    if folder is None:
        return None
    from .posterior import META

    try:
        return json.loads((Path(folder) / META).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EvnicheError(f"{Path(folder) / META}: not readable ({exc})") from None


def budget(meta: dict) -> dict[str, Any]:
    """The settings of the calibration that made ``meta`` (its ``posterior.json``), as
    :func:`evniche.experiments.calibration.calibrate` keywords: parameters, population,
    generations, days, seed (0 for a posterior written before calibrations were seeded).
    A posterior not written by ``evniche calibrate`` has none."""
    params = meta.get("parameters")
    if not isinstance(params, list) or not all(k in meta for k in ("population",
                                                                    "generations")):
        raise EvnicheError(f"the posterior of '{meta.get('model')}' was not written by "
                           "`evniche calibrate` (no parameter list, population and "
                           "generations): it cannot be refitted")
    return {"parameters": [str(p["name"]) for p in params],
            "population": int(meta["population"]), "generations": int(meta["generations"]),
            "days": meta.get("days"), "seed": int(meta.get("seed") or 0)}


def _kept(meta: dict, left_out: Sequence[str]) -> list[str]:
    return [o for o in fit_ids(meta) if o not in set(left_out)]


def fits(folder: Path, base: dict, left_out: Sequence[str]) -> str:
    """Why the leave-one-out posterior in ``folder`` does not fit the base posterior
    ``base`` without ``left_out`` ("" when it fits): it must be of the same model digest,
    fitted to the base's records less ``left_out``, with the same budget."""
    from .posterior import META, PARQUET

    if not ((folder / META).is_file() and (folder / PARQUET).is_file()):
        return f"{folder} holds no posterior"
    meta = read_meta(folder) or {}
    if meta.get("digest") != base.get("digest"):
        return f"{folder} was fitted to another version of '{base.get('model')}'"
    if sorted(meta.get("left_out") or []) != sorted(left_out):
        return f"{folder} leaves out {meta.get('left_out')}, not {list(left_out)}"
    if fit_ids(meta) != _kept(base, left_out):
        return f"{folder} was fitted to other records than the base posterior's"
    try:
        mine, theirs = budget(meta), budget(base)
    except EvnicheError as exc:
        return str(exc)
    # generations: those finished, which pyABC may end early (epsilon 0), so not compared
    same = all(mine[k] == theirs[k] for k in ("parameters", "population", "days"))
    return "" if same else f"{folder} has another budget than the base posterior"


def refit(base: dict, left_out: Sequence[str], out: str | Path | None = None, *,
          observations: Iterable[str | Path] | None = None, sampler: Any = None,
          progress: Callable[[str], None] | None = None, command: str | None = None) -> Path:
    """Calibrate the model of the posterior ``base`` (its ``posterior.json``) again without
    the records ``left_out``: the same parameters, population, generations and days, over
    the base fit's records (found in ``observations``; default the shipped records) less
    ``left_out``, with ``sampler`` (default: a Dask LocalCluster, as ``evniche calibrate``).
    ``out``: the calibration folder (default ``build/posteriors/MODEL-DIGEST-KEY``; the
    same call resumes). The folder's ``posterior.json`` gets ``left_out``. Returns it."""
    from ..observations import load
    from .calibration import POSTERIOR_INFO, calibrate, select_records, work_folder

    model = str(base.get("model_source") or base.get("model"))
    settings = budget(base)
    fitted = fit_ids(base)
    missing = [o for o in left_out if o not in fitted]
    if missing:
        raise EvnicheError(f"leave out {', '.join(missing)}: not in the fit of the posterior "
                           f"of '{model}' (its records: {', '.join(fitted)})")
    folders = None if observations is None else list(observations)
    present = [r.id for r in select_records(load(folders), model)]
    lost = [o for o in fitted if o not in present]
    if lost:
        raise EvnicheError(f"the posterior of '{model}' was fitted to {', '.join(lost)}, which "
                           "the observation records no longer hold: it cannot be refitted "
                           "the same way (regenerate it first)")
    # the records added since the base fit stay out too: the refit differs only by left_out
    dropped = list(left_out) + [o for o in present if o not in fitted]
    if out is None:  # by its name only: a model file's absolute path would leave build/
        out = Path("build") / "posteriors" / work_folder(model, repr((
            FOLDER, settings["parameters"], _kept(base, left_out), settings["population"],
            settings["days"], settings["seed"]))).name
    out = Path(out)
    say = progress or (lambda _: None)
    say(f"refitting '{model}' without {', '.join(left_out)} into {out}")
    calibrate(model, out, observations=folders, parameters=settings["parameters"],
              population=settings["population"], generations=settings["generations"],
              days=settings["days"], sampler=sampler, predictive=0, progress=say,
              command=command or base.get("command"), leave_out=dropped,
              seed=settings["seed"])
    info_path = out / POSTERIOR_INFO
    info = json.loads(info_path.read_text(encoding="utf-8"))
    info["left_out"] = sorted(left_out)
    info_path.write_text(json.dumps(info, indent=1), encoding="utf-8")
    return out


def shipped_folder(model: str, finding: str, root: str | Path | None = None) -> Path:
    """Where the leave-one-out posterior of ``finding`` ships with preset ``model``:
    ``evniche/posteriors/MODEL/leave-one-out/FINDING/`` (``root``: the folder of the
    shipped posteriors; default the package's)."""
    from importlib import resources

    from .posterior import SHIPPED

    base = Path(str(resources.files("evniche") / SHIPPED)) if root is None else Path(root)
    return base / model / FOLDER / finding


def ship(out: Path, model: str, finding: str, root: str | Path | None = None) -> Path:
    """Copy the posterior files of the refit in ``out`` to :func:`shipped_folder`, adding
    ``finding`` and ``regenerate`` to the JSON; returns the folder."""
    from .posterior import META, PARQUET, REGENERATE

    dest = shipped_folder(model, finding, root)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(out / PARQUET, dest / PARQUET)
    info = json.loads((out / META).read_text(encoding="utf-8"))
    info.update(finding=finding, regenerate=REGENERATE)
    (dest / META).write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    return dest


def linked_findings(model: str, meta: dict, scenarios: Iterable[Scenario] | None = None
                    ) -> list[tuple[Scenario, tuple[str, ...]]]:
    """The findings answered over a posterior of preset ``model`` (treatment arm on it)
    whose linked records are in that posterior's fit ``meta``, with those records."""
    from .catalog import catalog

    chosen = list(catalog().values()) if scenarios is None else list(scenarios)
    check_links(chosen)
    out = []
    for s in chosen:
        fitted = in_fit(s, meta)
        if s.kind == "finding" and s.treatment.model == model and fitted:
            out.append((s, fitted))
    return out


def ship_all(model: str, base_out: Path, *, observations: Iterable[str | Path] | None = None,
             sampler: Any = None, progress: Callable[[str], None] | None = None,
             command: str | None = None, root: str | Path | None = None) -> list[Path]:
    """Refit the calibration in ``base_out`` (of preset ``model``) once per finding whose
    records are in its fit, and ship each as :func:`shipped_folder`; leave-one-out folders
    of findings that no longer need one are removed. Returns the shipped folders."""
    base = read_meta(base_out) or {}
    shipped = []
    for s, fitted in linked_findings(model, base):
        out = refit(base, fitted, observations=observations, sampler=sampler,
                    progress=progress, command=command)
        shipped.append(ship(out, model, s.name, root))
    parent = shipped_folder(model, "x", root).parent
    if parent.is_dir():
        for stale in parent.iterdir():
            if stale.is_dir() and stale not in shipped:
                shutil.rmtree(stale)
    return shipped


@dataclass
class LeftOut:
    """A finding's answer with and without its own observations in the fit."""

    scenario: Scenario
    fitted: tuple[str, ...]  # its linked records in the fit of its posterior
    p_with: float  # P(agree) over the posterior it is answered over
    without: Any = None  # the Answer over the leave-one-out posterior (None: not run)
    posterior: str = ""  # the leave-one-out posterior's folder
    error: str = ""

    @property
    def p_without(self) -> float:
        return math.nan if self.without is None else float(self.without.p)

    @property
    def still(self) -> str:
        """'not in the fit', 'yes' / 'no' (still reproduced without them), 'not run' or
        'error'."""
        from .agreement import CONTRADICTED_BELOW

        if not self.fitted:
            return "not in the fit"
        if self.error:
            return "error"
        if self.without is None:
            return "not run"
        return "yes" if self.p_without >= CONTRADICTED_BELOW else "no"

    def cell(self) -> str:
        """The table cell: 'not in fit', 'P 0.85 → 0.80: yes', 'in fit (not run)'."""
        if not self.fitted:
            return "not in fit"
        if self.without is None:
            return "error" if self.error else "in fit (not run)"
        return f"{self.p_with:.2f} → {self.p_without:.2f}: {self.still}"


def standing(answers: Sequence) -> list[LeftOut]:
    """Per finding answer (:class:`evniche.experiments.agreement.Answer`): which of its
    linked records are in the fit of the posterior it was answered over (no run)."""
    check_links([a.scenario for a in answers])
    out = []
    for a in answers:
        if a.kind != "finding":
            continue
        meta = read_meta(a.folder) if a.folder else None
        out.append(LeftOut(a.scenario, in_fit(a.scenario, meta), a.p))
    return out


def posterior_without(folder: str | Path, left_out: Sequence[str], finding: str, *,
                      sampler: Any = None, progress: Callable[[str], None] | None = None
                      ) -> Path:
    """The leave-one-out posterior of the posterior in ``folder`` without ``left_out``: the
    one shipped for ``finding`` when ``folder`` is a shipped posterior and it fits
    (:func:`fits`), else a refit (:func:`refit`, resumable in build/posteriors/)."""
    from .posterior import shipped_folder as shipped_base

    base = read_meta(folder) or {}
    model = str(base.get("model_source") or base.get("model"))
    say = progress or (lambda _: None)
    home = shipped_base(model)
    if home is not None and Path(folder).resolve() == home.resolve():
        candidate = shipped_folder(model, finding)
        why = fits(candidate, base, left_out)
        if not why:
            return candidate
        say(f"{finding}: the shipped leave-one-out posterior is not used ({why}); "
            "refitting (`make posteriors` ships a fitting one)")
    return refit(base, left_out, sampler=sampler, progress=progress)


def answer_without(answers: Sequence, ensemble_n: int = 20, seed: int = 0, *,
                   sampler: Any = None, progress: Callable[[str], None] | None = None
                   ) -> list[LeftOut]:
    """:func:`standing`, and each finding whose records are in its fit answered again over
    its leave-one-out posterior (``ensemble_n`` draws, ``seed``: as the answer with them)."""
    from .agreement import answer, posterior_draws

    out = standing(answers)
    by_name = {a.scenario.name: a for a in answers}
    for row in out:
        if not row.fitted:
            continue
        a = by_name[row.scenario.name]
        try:
            folder = posterior_without(a.folder, row.fitted, row.scenario.name,
                                       sampler=sampler, progress=progress)
            draws = posterior_draws(str(folder), ensemble_n, seed, row.scenario.treatment.model)
            row.posterior = str(folder)
            row.without = answer(row.scenario, draws)
        except EvnicheError as exc:
            row.error = str(exc)
    return out
