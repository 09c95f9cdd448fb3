"""Fuzz the model pipeline: ``python tests/fuzz/fuzz.py --count 10000`` (``make fuzz``).

Each case is a valid model (the tiny test models or a preset) with 1–3 random mutations
(:mod:`mutations`), made from ``--seed`` and the case's index alone, so ``--case N``
reproduces case N. Every case is loaded and compiled; a case whose index is a multiple of
``--simulate-every`` is, if it compiles, also simulated for a short span (``--days``; the
tiny models for 5 days) under the engine's wall-clock limit of half ``--timeout``.
A case ends in one of:

* refused: ``load_model``/``compile_model`` raised an EvnicheError (a clean error);
* accepted: it loaded and compiled (and, if sampled, simulated or failed cleanly);
* unhandled: any other exception (a bug; first tracebacks printed, deduplicated by type
  and place);
* hang: it ran past ``--timeout`` seconds (killed; the model is printed with ``--case``).

Exit status 1 when a case is unhandled or hangs.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import signal
import sys
import time
import traceback
from collections import Counter
from multiprocessing.connection import Connection, wait
from pathlib import Path
from random import Random

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))

import mutations  # noqa: E402

TINY = ("tiny", "tiny_leukemia")


class Hang(Exception):
    """A case ran past its time (raised by SIGALRM inside the worker)."""


def make_case(seed: int, index: int, bases: list[tuple[str, dict]]) -> tuple[str, dict]:
    rng = Random(f"{seed}:{index}")
    name, base = bases[rng.randrange(len(bases))]
    return name, mutations.mutate(base, rng.randrange)


def place(exc: BaseException) -> str:
    """Where an exception came from: the innermost frame in evniche, and the innermost."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/evniche/" in f.filename]
    parts = []
    for frame in (ours[-1:] + frames[-1:]):
        parts.append(f"{Path(frame.filename).name}:{frame.lineno} {frame.name}")
    return " <- ".join(dict.fromkeys(reversed(parts)))


def run_case(seed: int, index: int, bases, simulate_every: int, days: float,
             timeout: float) -> dict:
    """Load, compile and (for a sample) simulate one case; say how it ended."""
    from evniche import engines
    from evniche.compile.network import compile_model
    from evniche.errors import EvnicheError
    from evniche.spec.loader import load_model

    out = {"index": index, "base": "?", "simulated": False}
    stage = "mutate"  # an error here is the fuzzer's own
    signal.alarm(int(timeout))
    try:
        name, data = make_case(seed, index, bases)
        out["base"] = name
        stage = "load"
        model = load_model(data)
        stage = "compile"
        compile_model(model)
        out["outcome"] = "accepted"
        if simulate_every and index % simulate_every == 0:
            stage = "simulate"
            out["simulated"] = True
            engines.simulate(model, days=5.0 if name in TINY else days,
                             wall_limit_s=timeout / 2)
            out["simulation"] = "ran"
    except Hang:
        out.update(outcome="hang", stage=stage)
    except EvnicheError as exc:
        if stage == "simulate":
            out["simulation"] = "refused"
            out["message"] = str(exc)[:1000]
        else:
            out.update(outcome="refused", stage=stage)
    except BaseException as exc:  # noqa: BLE001 - counting what escapes is the point
        out.update(outcome="unhandled", stage=stage, type=type(exc).__name__,
                   place=place(exc), message=str(exc)[:300],
                   traceback="".join(traceback.format_exception(exc))[-4000:])
    finally:
        signal.alarm(0)
    return out


def worker(conn: Connection, seed: int, simulate_every: int, days: float,
           timeout: float) -> None:
    def on_alarm(signum, frame):
        raise Hang()

    signal.signal(signal.SIGALRM, on_alarm)
    bases = mutations.base_models()
    conn.send("ready")
    while True:
        index = conn.recv()
        if index is None:
            return
        conn.send(run_case(seed, index, bases, simulate_every, days, timeout))


def run_all(args) -> list[dict]:
    """Run cases ``0 .. count-1`` on ``args.jobs`` worker processes; a worker that does
    not answer within twice the timeout is killed and its case counted as a hang."""
    ctx = mp.get_context("fork")
    todo = list(range(args.count))[::-1]
    results: list[dict] = []
    workers: dict[Connection, tuple] = {}

    def start() -> None:
        mine, theirs = ctx.Pipe()
        proc = ctx.Process(target=worker, args=(theirs, args.seed, args.simulate_every,
                                                args.days, args.timeout), daemon=True)
        proc.start()
        mine.recv()  # ready (bases loaded)
        workers[mine] = (proc, None, 0.0)

    def feed(conn: Connection) -> None:
        proc = workers[conn][0]
        if todo:
            index = todo.pop()
            conn.send(index)
            workers[conn] = (proc, index, time.monotonic())
        else:
            conn.send(None)
            proc.join()
            del workers[conn]

    for _ in range(args.jobs):
        start()
    for conn in list(workers):
        feed(conn)
    t0 = time.monotonic()
    while workers:
        for conn in wait(list(workers), timeout=1.0):
            try:
                results.append(conn.recv())
            except EOFError:  # the worker died (a crash in C, out of memory)
                proc, index, _ = workers.pop(conn)
                proc.join()
                results.append({"index": index, "base": "?", "outcome": "unhandled",
                                "stage": "?", "simulated": False, "type": "WorkerDied",
                                "place": f"exit code {proc.exitcode}", "message": "",
                                "traceback": ""})
                start()
                feed(list(workers)[-1])
                continue
            if len(results) % 500 == 0:
                print(f"  {len(results)}/{args.count} cases, "
                      f"{time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
            feed(conn)
        for conn, (proc, index, since) in list(workers.items()):
            if index is not None and time.monotonic() - since > 2 * args.timeout + 10:
                proc.kill()
                proc.join()
                del workers[conn]
                results.append({"index": index, "base": "?", "outcome": "hang",
                                "stage": "killed", "simulated": False})
                start()
                feed(list(workers)[-1])
    return sorted(results, key=lambda r: r["index"])


def summary(results: list[dict], args, seconds: float) -> int:
    outcomes = Counter(r["outcome"] for r in results)
    sims = Counter(r.get("simulation", "unhandled/hang") for r in results if r["simulated"])
    print(f"fuzz: {len(results)} mutated models (seed {args.seed}) in {seconds:.0f} s; every "
          f"case loaded and compiled; those accepted among every {args.simulate_every}th case "
          f"also simulated ({args.days:g} days, the tiny models 5; wall limit "
          f"{args.timeout / 2:g} s); hang: no answer within {args.timeout:g} s")
    for key in ("refused", "accepted", "unhandled", "hang"):
        print(f"  {key:10s} {outcomes.get(key, 0)}")
    print(f"  simulated  {sum(sims.values())}: ran {sims.get('ran', 0)}, refused cleanly "
          f"{sims.get('refused', 0)}")
    stages = Counter(r.get("stage") for r in results if r["outcome"] == "refused")
    print(f"  refused at: {dict(stages)}")
    bases = Counter(r["base"] for r in results)
    print(f"  bases: {dict(sorted(bases.items()))}")
    refusals: dict[str, list[dict]] = {}
    for r in results:
        if r.get("simulation") == "refused":
            refusals.setdefault(r["message"].split(";")[0][-60:], []).append(r)
    for rows in sorted(refusals.values(), key=len, reverse=True)[:args.tracebacks]:
        print(f"    simulation refused ×{len(rows)} (cases "
              f"{', '.join(str(r['index']) for r in rows[:8])}), e.g.: {rows[0]['message']}")
    bad = [r for r in results if r["outcome"] == "unhandled"]
    groups: dict[tuple, list[dict]] = {}
    for r in bad:
        groups.setdefault((r["type"], r["place"]), []).append(r)
    for (kind, where), rows in sorted(groups.items(), key=lambda g: -len(g[1])):
        print(f"\nUNHANDLED {kind} ×{len(rows)} at {where} (cases "
              f"{', '.join(str(r['index']) for r in rows[:8])}; stage {rows[0]['stage']})")
        if list(groups).index((kind, where)) < args.tracebacks:
            print(rows[0]["traceback"])
    hangs = [r for r in results if r["outcome"] == "hang"]
    if hangs:
        print(f"\nHANGS (> {args.timeout:g} s): cases "
              + ", ".join(f"{r['index']} ({r['base']}, {r['stage']})" for r in hangs[:20]))
    return 1 if bad or hangs else 0


def show_case(args) -> int:
    """Print case ``args.case`` as YAML and run it here, with its traceback if any."""
    import yaml

    name, data = make_case(args.seed, args.case, mutations.base_models())
    try:
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)
    except RecursionError:  # a value wrapped in 2000 levels of nesting
        text = "(too deeply nested to print)"
    print(f"# case {args.case} (seed {args.seed}), mutated from {name}\n{text[:20000]}")

    def on_alarm(signum, frame):
        raise Hang()

    signal.signal(signal.SIGALRM, on_alarm)
    result = run_case(args.seed, args.case, mutations.base_models(), 1, args.days,
                      args.timeout)
    print({k: v for k, v in result.items() if k != "traceback"})
    if "traceback" in result:
        print(result["traceback"])
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="cases to run")
    parser.add_argument("--seed", type=int, default=0, help="seed of the mutations")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds a case may take before it counts as a hang")
    parser.add_argument("--simulate-every", type=int, default=5,
                        help="simulate the cases whose index is a multiple of N, if they "
                             "compile (0: none)")
    parser.add_argument("--days", type=float, default=1.0,
                        help="simulated days of a sampled preset case")
    parser.add_argument("--tracebacks", type=int, default=5,
                        help="print the tracebacks of the first N kinds of unhandled error")
    parser.add_argument("--case", type=int, default=None,
                        help="print case N as YAML and run it here (no pool)")
    args = parser.parse_args(argv)
    if args.case is not None:
        return show_case(args)
    start = time.monotonic()
    results = run_all(args)
    return summary(results, args, time.monotonic() - start)


if __name__ == "__main__":
    sys.exit(main())
