"""Cost of the stochastic engine (hybrid SSA/ODE); one table.

    python benchmarks/stochastic.py [--model aml] [--days 365] [--runs 10000]
                                    [--coupling-hours 6]

Rows (wall and CPU seconds of this process, after a warm-up that compiles the kernels):

* ``establishment``: :func:`evniche.engines.stochastic.establishment` of ``--runs`` runs
  from one leukemic stem cell of a birth-death model (b = 0.04/h, d = 0.01/h, threshold
  30 cells), with the share established beside 1 − d/b;
* ``MODEL hybrid run``: ``evniche.simulate(MODEL, engine="stochastic")`` for ``--days``
  days, with the events drawn and right-hand-side evaluations, beside the well-mixed run
  of the same model.
CPU seconds are the honest figure on a shared machine: wall time there includes waiting.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
sys.path.insert(0, str(SRC))

import evniche  # noqa: E402
from evniche.engines import stochastic  # noqa: E402

BIRTH, DEATH = 0.04, 0.01


def _p(value: float, unit: str) -> dict:
    return {"value": value, "unit": unit, "source": "assumption: a benchmark value"}


def birth_death() -> dict:
    """One leukemic stem cell type: births 0.04/h (self-renewal 1), deaths 0.01/h."""
    return {"name": "birth_death", "disease": "AML",
            "parameters": {"vm": _p(1000, "mL"), "vb": _p(3000, "mL")},
            "compartments": {"marrow": {"volume": "vm"}, "blood": {"volume": "vb"}},
            "vesicle_classes": {"exosome": {
                "diameter": {"median": _p(0.1, "um"), "gsd": _p(1.4, "dimensionless"),
                             "min": _p(0.03, "um"), "max": _p(0.15, "um")},
                "degradation": _p(0.1, "1/h"), "drainage": _p(0.5, "1/h"),
                "clearance": _p(7, "1/min")}},
            "cell_types": {"LSC": {"lineage": "leukemic", "initial": _p(1, "cell"),
                                   "proliferation": _p(BIRTH, "1/h"),
                                   "self_renewal": _p(1.0, "dimensionless"),
                                   "death": _p(DEATH, "1/h")}}}


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="aml")
    parser.add_argument("--days", type=float, default=365.0)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--coupling-hours", type=float, default=stochastic.COUPLING_HOURS)
    args = parser.parse_args()
    bd = evniche.load_model(birth_death())
    stochastic.establishment(bd, "LSC", runs=10, days=60, threshold=30)  # warm-up
    evniche.simulate(args.model, days=1, engine="stochastic")
    rows = []
    out, wall, cpu = timed(lambda: stochastic.establishment(bd, "LSC", runs=args.runs,
                                                            days=60, seed=1, threshold=30))
    rows.append((f"establishment, {args.runs} runs", wall, cpu,
                 f"{out.probability:.4f} established (1 − d/b = {1 - DEATH / BIRTH:.4f})"))
    ds, wall, cpu = timed(lambda: evniche.simulate(
        args.model, days=args.days, engine="stochastic", seed=1,
        coupling_hours=args.coupling_hours))
    rows.append((f"{args.model} hybrid run, {args.days:g} days", wall, cpu,
                 f"{ds.attrs['events']} events, {ds.attrs['rhs_evaluations']} rhs evaluations"))
    ds, wall, cpu = timed(lambda: evniche.simulate(args.model, days=args.days))
    rows.append((f"{args.model} well-mixed run, {args.days:g} days", wall, cpu,
                 f"{ds.attrs['rhs_evaluations']} rhs evaluations"))
    print(f"{'what':<40} {'wall s':>8} {'CPU s':>8}  detail")
    for what, wall, cpu, detail in rows:
        print(f"{what:<40} {wall:>8.2f} {cpu:>8.2f}  {detail}")


if __name__ == "__main__":
    main()
