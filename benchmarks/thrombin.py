"""Benchmark of the Hockin–Mann thrombin generation model: wall time of one virtual
thrombogram (one ODE solve of 40 simulated minutes) at tissue factor doses below, at and
above the model's threshold, and of a run's thrombin table.

    python benchmarks/thrombin.py [--repeats 5]

The target: a run's report spends under two seconds here (a few sample days, well under
0.5 s per curve).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
sys.path.insert(0, str(SRC))

from evniche.coagulation import hockin, thrombogram  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    hockin.simulate(5.0)  # warm the imports
    print(f"{'TF (pM)':>8} {'membrane':>9} {'median s':>9} {'min s':>7} {'max s':>7} "
          f"{'lag min':>8} {'peak nM':>8}")
    for tf, membrane in ((0.1, 1.0), (1.0, 1.0), (5.0, 1.0), (25.0, 1.0), (5.0, 0.3)):
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            curve = hockin.simulate(tf, membrane=membrane)
            times.append(time.perf_counter() - start)
        r = thrombogram.read(curve)
        print(f"{tf:>8g} {membrane:>9g} {statistics.median(times):>9.3f} {min(times):>7.3f} "
              f"{max(times):>7.3f} {r.lag_min:>8.2f} {r.peak_nM:>8.1f}")


if __name__ == "__main__":
    main()
