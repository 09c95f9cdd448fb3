"""Run a virtual cohort: draw subjects, simulate each, apply the assays, stream one Parquet
file per subject into the output folder, so that a killed cohort resumes where it stopped.

Layout of ``DIR``:

* ``cohort.json``: the settings (model digest, horizon, seed, therapy, population …). A
  rerun with the same settings resumes; other settings are refused (a new folder is
  needed), except more patients or controls, which extend the cohort.
* ``subjects/<arm>-<index>.parquet``: one file per finished subject (written whole, then
  renamed into place, so a kill never leaves half a file). Rows are samples: the
  diagnostic sample (``phase == "diagnosis"``) and, for treated patients, one row per
  monitoring visit (``phase == "monitoring"``); columns: ``subject``, ``arm``, ``index``,
  ``phase``, ``day`` (days), each biomarker measured (its unit, :mod:`.assays`) and its true
  value (``<name>_true``), ``blast_percent`` (%, true), the subject's drawn parameters
  (``param.<name>``), ``stage_blasts`` (%), ``diagnosed``, ``sample_day``,
  ``remission_day``, ``relapse_day`` (days; NaN when none) and ``error`` (why a run failed).

Subjects and their draws are fixed by the seed and the subject's index alone
(``numpy.random.default_rng([seed, arm, index])``), so the same subject comes out the same
whichever worker runs it, in whichever order, before or after a resume.

Patients are subjects whose marrow blasts reach their stage at sampling within the
horizon: a draw that never does (no disease within ``days``) is kept on disk as an
undiagnosed subject, and more are drawn until ``patients`` are diagnosed (at most
:data:`MAX_DRAWS_PER_PATIENT` draws per patient asked for).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import EvnicheError
from . import assays, population

SETTINGS = "cohort.json"
SUBJECTS = "subjects"
ARM_CODE = {"patient": 1, "control": 2}
#: draws per patient asked for before giving up on finding enough diagnosed ones
MAX_DRAWS_PER_PATIENT = 5
#: the therapy of the monitoring arm when the model has its drugs: 7+3 induction on the
#: sampling day and cytarabine consolidation 35 days later (as the scenario catalog's aml
#: remission check, evniche.experiments.catalog)
DEFAULT_THERAPY: tuple[dict, ...] = ({"name": "induction_7_3", "after": 0.0},
                                     {"name": "consolidation", "after": 35.0})
THERAPY_DRUGS = ("cytarabine", "daunorubicin")
#: solver tolerance of the cohort's runs: 1e-6 halves the CPU time of an aml year against
#: the engine's default 1e-7 and moves the assayed quantities by ~1e-8 relative (measured),
#: far below the assays' noise (CV >= 10 %)
RTOL = 1e-6


@dataclass(frozen=True)
class Settings:
    """What every subject of a cohort shares. ``model`` / ``control_model``: merged model
    mappings (patients; controls: the same model without leukemic cells); ``days``: horizon
    of a patient's untreated run (days); ``control_days``: of a control's run; ``therapy``:
    interventions of the monitoring run, ``after`` days after the sampling day (empty: no
    monitoring); ``followup_days``: monitoring run length after sampling; ``visit_days``:
    days between monitoring visits; ``cargos``: RNA cargos measured by qPCR."""

    model_name: str
    digest: str
    model: dict
    control_model: dict
    days: float
    control_days: float
    seed: int
    cargos: tuple[str, ...]
    variations: tuple[population.Variation, ...]
    stage: population.Variation = population.STAGE
    therapy: tuple[dict, ...] = ()
    followup_days: float = 365.0
    visit_days: float = 30.0
    posterior: str | None = None
    posterior_particles: tuple[dict, ...] = field(default=(), repr=False)
    posterior_weights: tuple[float, ...] = field(default=(), repr=False)

    @property
    def markers(self) -> list[assays.Biomarker]:
        return assays.biomarkers(list(self.cargos))

    def record(self) -> dict:
        """The settings as JSON-ready data (``cohort.json``), without the model mappings
        (their digest stands for them)."""
        out = asdict(self)
        for key in ("model", "control_model", "posterior_particles", "posterior_weights"):
            out.pop(key)
        out["control_digest"] = _digest(self.control_model)
        return out


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def leukemic_types(model) -> list[str]:
    """The leukemic cell types of a resolved model."""
    return [name for name, cell in (model.raw.get("cell_types") or {}).items()
            if isinstance(cell, dict) and cell.get("lineage") == "leukemic"]


def control_overrides(model) -> dict:
    """Load-time overrides that make ``model`` a control: no leukemic cell at the start."""
    types = leukemic_types(model)
    if not types:
        raise EvnicheError(f"model '{model.name}' has no leukemic cell type "
                           "(lineage: leukemic); a cohort needs patients that differ from "
                           "controls")
    return {f"cell_types.{t}.initial": {
        "value": 0, "unit": "cell",
        "source": "assumption: a control is the same model without leukemic cells"}
        for t in types}


def make_settings(model, *, days: float = 365.0, seed: int = 0, monitoring: bool = False,
                  followup_days: float = 365.0, visit_days: float = 30.0,
                  variations: Sequence[population.Variation] | None = None,
                  stage: population.Variation = population.STAGE,
                  posterior=None, control_days: float = 60.0) -> Settings:
    """Settings of a cohort of ``model`` (a ResolvedModel). ``monitoring``: treat each patient
    with :data:`DEFAULT_THERAPY` from the sampling day and sample at visits (the model needs
    its drugs). ``posterior``: a
    :class:`~evniche.experiments.posterior.Posterior` checked against the model. Errors
    name the option."""
    from ..engines import cost
    from ..spec.loader import load_model

    days = cost.check_days(days)
    for name, v in (("--followup-days", followup_days), ("--visit-days", visit_days)):
        if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
            raise EvnicheError(f"{name} must be a positive number of days, got {v}")
    control = load_model(model.raw, overrides=control_overrides(model))
    drugs = set((model.raw.get("drugs") or {}).keys())
    has_drugs = all(d in drugs for d in THERAPY_DRUGS)
    if monitoring and not has_drugs:
        raise EvnicheError(f"--monitoring: model '{model.name}' lacks the drugs of the 7+3 "
                           f"therapy ({', '.join(THERAPY_DRUGS)})")
    chosen = tuple(variations if variations is not None else population.DEFAULT)
    params = model.params.resolved
    particles: tuple[dict, ...] = ()
    weights: tuple[float, ...] = ()
    folder = None
    if posterior is not None:
        posterior.check_model(model)
        values = posterior.particles.to_numpy(dtype=float)
        particles = tuple({k.split(".", 1)[1]: float(x) for k, x in zip(posterior.keys, row,
                                                                         strict=True)}
                          for row in values)
        weights = tuple(float(w) for w in posterior.weights)
        folder = str(posterior.folder)
    _check_ranges(model, chosen)
    probe = _probe(model, days)
    return Settings(model_name=model.name, digest=str(model.digest), model=model.raw,
                    control_model=control.raw, days=days, control_days=control_days,
                    seed=int(seed), cargos=tuple(assays.rna_cargos(probe)),
                    variations=tuple(population.applicable(chosen, params, "patient")
                                     + [v for v in population.applicable(chosen, params,
                                                                         "control")
                                        if "patient" not in v.arms]),
                    stage=stage, therapy=DEFAULT_THERAPY if monitoring else (),
                    followup_days=followup_days, visit_days=visit_days, posterior=folder,
                    posterior_particles=particles, posterior_weights=weights)


def _check_ranges(model, variations: Sequence[population.Variation]) -> None:
    """Refuse a variation of a derived parameter, or whose bounds leave its parameter's
    plausible range."""
    from ..engines import prepare
    from ..engines.ensemble import ParameterValues

    net, _ = prepare(model)
    values = ParameterValues(model, net)
    raw = model.raw.get("parameters") or {}
    for v in variations:
        if isinstance(raw.get(v.parameter), dict) and "expr" in raw[v.parameter]:
            raise EvnicheError(f"population: variation of {v.parameter}: model "
                               f"'{model.name}' derives it (expr: "
                               f"{raw[v.parameter]['expr']}); vary a parameter it is "
                               "derived from")
        if v.parameter in model.params.resolved:
            for bound in (v.low, v.high):
                values.canonical({v.parameter: bound}, f"population: variation of "
                                 f"{v.parameter}")


def _probe(model, days: float):
    """A one-day run of the model, for its coordinates (cargos, pools)."""
    from ..engines.ensemble import simulate_many

    return simulate_many(model, [{}], min(days, 1.0))[0]


# ----------------------------------------------------------------------------- subjects
@dataclass(frozen=True)
class Subject:
    """One subject to simulate: ``arm``, ``index``, its parameter values (file units) and,
    for a patient, the blast % at which it is sampled."""

    arm: str
    index: int

    @property
    def name(self) -> str:
        return f"{self.arm}-{self.index:05d}"


def subject_draw(settings: Settings, subject: Subject) -> tuple[dict[str, float], float]:
    """(parameter values, stage blast %) of ``subject``: a function of the seed, the arm
    and the index only."""
    rng = np.random.default_rng([settings.seed, ARM_CODE[subject.arm], subject.index])
    particle = None
    if settings.posterior_particles and subject.arm == "patient":
        k = int(rng.choice(len(settings.posterior_weights), p=settings.posterior_weights))
        particle = settings.posterior_particles[k]
    values = population.draw(settings.variations, subject.arm, rng, particle)
    stage = settings.stage.draw(rng)
    return values, stage


_MODELS: dict[str, Any] = {}


def _loaded(raw: dict):
    """The model of ``raw`` loaded once per process (workers keep it between tasks)."""
    from ..spec.loader import load_model

    key = _digest(raw)
    if key not in _MODELS:
        _MODELS[key] = load_model(raw)
    return _MODELS[key]


def _simulate(model, params: dict, days: float, interventions: list | None = None):
    import warnings

    from ..engines.ensemble import simulate_many

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return simulate_many(model, [params], days, interventions=interventions, rtol=RTOL)[0]


def _sample_rows(ds, day: float, settings: Settings, rng: np.random.Generator,
                 base: dict, phase: str) -> dict:
    from ..readouts import clinical

    markers = settings.markers
    true = assays.true_values(ds, day, markers)
    measured = assays.measure(true, markers, rng)
    row = dict(base, phase=phase, day=float(day),
               blast_percent=float(clinical.value_at(clinical.blast_percent(ds), day)))
    for m in markers:
        row[m.name] = measured[m.name]
        row[f"{m.name}_true"] = true[m.name]
    return row


def run_subject(subject: Subject, settings: Settings) -> list[dict]:
    """Simulate one subject and read its samples (rows, see the module text); a run that
    fails gives one row with ``error`` set."""
    from ..readouts import clinical

    params, stage = subject_draw(settings, subject)
    rng = np.random.default_rng([settings.seed, ARM_CODE[subject.arm], subject.index, 1])
    base: dict[str, Any] = {"subject": subject.name, "arm": subject.arm,
                            "index": subject.index, "stage_blasts": math.nan,
                            "diagnosed": False, "sample_day": math.nan,
                            "remission_day": math.nan, "relapse_day": math.nan, "error": ""}
    base.update({f"param.{k}": float(v) for k, v in params.items()})
    try:
        if subject.arm == "control":
            model = _loaded(settings.control_model)
            ds = _simulate(model, params, settings.control_days)
            day = float(ds["time"].values[-1])
            base.update(sample_day=day)
            return [_sample_rows(ds, day, settings, rng, base, "diagnosis")]
        model = _loaded(settings.model)
        ds = _simulate(model, params, settings.days)
        base["stage_blasts"] = stage
        day = clinical.first_crossing(ds["time"].values, clinical.blast_percent(ds).values,
                                      stage)
        if day is None:
            return [dict(base, phase="undiagnosed", day=math.nan)]
        base.update(diagnosed=True, sample_day=day)
        rows = [_sample_rows(ds, day, settings, rng, base, "diagnosis")]
        if settings.therapy:
            course, visits = _monitoring(model, params, day, _treatment_day(ds, day),
                                         settings, rng, base)
            rows[0].update(course)  # the diagnosis row learns the course too
            rows += visits
        return rows
    except EvnicheError as exc:
        return [dict(base, phase="failed", day=math.nan, error=str(exc))]


def _treatment_day(ds, day: float) -> float:
    """The first output sample (days) of the untreated run at or after the sampling ``day``:
    the therapy starts there, so that the treated run holds the marrow that made the
    diagnosis (>= the stage's blasts) as a sample before the first dose (as
    evniche.experiments.induction_response starts 7+3)."""
    times = np.asarray(ds["time"].values, dtype=float)
    k = min(int(np.searchsorted(times, day - 1e-9)), times.size - 1)
    return float(times[k])


def _monitoring(model, params: dict, day: float, start: float, settings: Settings,
                rng: np.random.Generator, base: dict) -> tuple[dict, list[dict]]:
    """The treated run, its therapy from ``start`` (days, :func:`_treatment_day` of the
    sampling ``day``): its remission and relapse days (days; NaN when none), and one
    sample row per visit after the sampling day."""
    from ..readouts import clinical

    therapy = [{"name": t["name"], "start": start + float(t["after"])}
               for t in settings.therapy]
    ds = _simulate(model, params, day + settings.followup_days, therapy)
    cr = clinical.remission_day(ds)
    relapse = clinical.relapse_day(ds)
    course = {"remission_day": math.nan if cr is None else cr,
              "relapse_day": math.nan if relapse is None else relapse}
    base = dict(base, **course)
    end = float(ds["time"].values[-1])
    visits = np.arange(day + settings.visit_days, end + 1e-9, settings.visit_days)
    return course, [_sample_rows(ds, float(v), settings, rng, base, "monitoring")
                    for v in visits]


# ----------------------------------------------------------------------------- folder
def check_folder(out: str | os.PathLike[str], settings: Settings) -> Path:
    """``out`` ready for ``settings``: created, or holding a cohort with the same settings
    (resumed). Anything else is refused before a run starts."""
    text = os.fspath(out)
    if not text.strip():
        raise EvnicheError("--out: expected a folder name, got an empty string")
    path = Path(text).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise EvnicheError(f"--out {text}: {path} is a file, not a folder")
    record = settings.record()
    marker = path / SETTINGS
    if marker.exists():
        try:
            old = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EvnicheError(f"--out {text}: {marker} is not readable JSON ({exc})") from None
        if _fingerprint(old) != _fingerprint(json.loads(json.dumps(record, default=str))):
            raise EvnicheError(f"--out {text}: holds a cohort with other settings (model, "
                               "horizon, seed, therapy or population); give a new folder")
    elif path.is_dir() and any(path.iterdir()):
        raise EvnicheError(f"--out {text}: {path} holds other files and no {SETTINGS}; give "
                           "a new or empty folder")
    (path / SUBJECTS).mkdir(parents=True, exist_ok=True)
    if not marker.exists():
        marker.write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    return path


def _fingerprint(record: dict) -> str:
    return _digest({k: v for k, v in record.items() if k not in ("patients", "controls")})


def finished(out: Path) -> set[str]:
    """Names of the subjects whose file is in ``out``."""
    return {p.stem for p in (out / SUBJECTS).glob("*.parquet")}


def write_subject(out: Path, name: str, rows: list[dict]) -> None:
    """One subject's rows to ``out/subjects/<name>.parquet``, whole or not at all."""
    target = out / SUBJECTS / f"{name}.parquet"
    tmp = target.with_suffix(".parquet.part")
    pd.DataFrame(rows).to_parquet(tmp, index=False)
    os.replace(tmp, target)


def load(out: str | os.PathLike[str]) -> pd.DataFrame:
    """Every finished subject's rows in ``out``, ordered by arm and index."""
    files = sorted((Path(out) / SUBJECTS).glob("*.parquet"))
    if not files:
        return pd.DataFrame()
    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    return frame.sort_values(["arm", "index", "day"], kind="stable").reset_index(drop=True)


@dataclass
class RunInfo:
    """What a call to :func:`run` did: subjects simulated now, found finished, seconds."""

    simulated: int = 0
    resumed: int = 0
    seconds: float = 0.0
    draws: int = 0


def _diagnosed(out: Path) -> list[int]:
    frame = load(out)
    if frame.empty:
        return []
    first = frame[(frame["arm"] == "patient")].groupby("index")["diagnosed"].first()
    return sorted(int(i) for i, d in first.items() if d)


def run(settings: Settings, out: str | os.PathLike[str], patients: int, controls: int,
        client: Any = None, progress: Callable[[str], None] | None = None) -> RunInfo:
    """Simulate the cohort into ``out``: ``controls`` controls and subjects drawn until
    ``patients`` are diagnosed. Finished subjects (files in ``out``) are not run again.
    ``client``: a Dask client (None: here, one subject after the other). ``progress`` is
    called with each finished subject's name."""
    for name, n in (("--patients", patients), ("--controls", controls)):
        if not isinstance(n, int) or isinstance(n, bool) or n < 2:
            raise EvnicheError(f"{name} must be a whole number >= 2, got {n}")
    start = time.perf_counter()
    path = check_folder(out, settings)
    info = RunInfo()
    done = finished(path)
    wanted = [Subject("control", i) for i in range(controls)]
    next_index = 0
    batch = patients
    while True:
        wanted += [Subject("patient", i) for i in range(next_index, next_index + batch)]
        next_index += batch
        todo = [s for s in wanted if s.name not in done]
        info.resumed += len(wanted) - len(todo)
        _execute(todo, settings, path, client, progress)
        info.simulated += len(todo)
        done = finished(path)
        _stop_if_all_failed(path)
        wanted = []
        have = len(_diagnosed(path))
        info.draws = next_index
        if have >= patients or next_index >= MAX_DRAWS_PER_PATIENT * patients:
            break
        rate = max(have / next_index, 0.1)
        batch = min(math.ceil((patients - have) / rate), MAX_DRAWS_PER_PATIENT * patients
                    - next_index)
    info.seconds = time.perf_counter() - start
    return info


def _stop_if_all_failed(out: Path) -> None:
    """Raise the first error when every finished subject failed (a setting is wrong)."""
    frame = load(out)
    if not frame.empty and (frame["error"] != "").all():
        raise EvnicheError(f"every subject failed; the first: {frame['error'].iloc[0]}")


def _execute(todo: list[Subject], settings: Settings, out: Path, client: Any,
             progress: Callable[[str], None] | None) -> None:
    """Run ``todo`` (here or on Dask, one task per subject) writing each as it finishes."""
    if client is None:
        for subject in todo:
            write_subject(out, subject.name, run_subject(subject, settings))
            if progress is not None:
                progress(subject.name)
        return
    from distributed import as_completed

    shared = client.scatter(settings, broadcast=True, hash=False)
    futures = {client.submit(run_subject, s, shared, pure=False): s for s in todo}
    try:
        for future in as_completed(futures):
            subject = futures[future]
            write_subject(out, subject.name, future.result())
            if progress is not None:
                progress(subject.name)
    finally:
        for future in futures:
            future.cancel()
