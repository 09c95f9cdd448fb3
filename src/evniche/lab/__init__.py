"""The EV laboratory: samples from a run, isolation steps as physics, instruments with
their limits and an EV-TRACK-style record of every virtual experiment (docs/lab.md).

* :mod:`.particles` — the size grid, EV properties by class and the non-EV particles of
  plasma (lipoproteins, soluble protein, aggregates, platelets) with their sources;
* :mod:`.samples` — plasma, serum, bone-marrow plasma or conditioned medium from a run;
* :mod:`.centrifugation`, :mod:`.gradients`, :mod:`.chromatography`, :mod:`.filtration`,
  :mod:`.precipitation`, :mod:`.affinity` — the isolation steps;
* :mod:`.protocols` — a protocol (YAML, pydantic) as a sequence of steps;
* :mod:`.characterization` — NTA, flow cytometry, EM, western blot/proteomics;
* :mod:`.outcome` — yield, purity, carry-over, the leukemic readout;
* :mod:`.record` — the EV-TRACK/MISEV-style record and checklist scores;
* :mod:`.report` — the HTML report; :mod:`.findings` — literature findings as checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .characterization import Characterization, characterize
from .outcome import Outcome
from .protocols import Isolation, Protocol, load, run
from .samples import Sample, from_run

__all__ = ["Experiment", "experiment", "from_run", "load", "run", "characterize"]


@dataclass
class Experiment:
    """One virtual experiment: the isolation, readings of the sample and of the isolate,
    the outcome and the record."""

    isolation: Isolation
    before: Characterization
    after: Characterization
    outcome: Outcome
    record: dict

    def write(self, out: str | Path) -> Path:
        """Write the report, record and tables into ``out``; the report's path."""
        from .report import write

        return write(Path(out), self.isolation, self.before, self.after, self.outcome,
                     self.record)


def experiment(protocol: Protocol | str | Path, sample: Sample, seed: int = 0,
               command: str = "") -> Experiment:
    """Run ``protocol`` (a Protocol, a shipped name or a YAML file) on ``sample`` and
    characterize the sample and the isolate (``seed``: the EM particle draw)."""
    from .outcome import outcome
    from .record import build

    proto = protocol if isinstance(protocol, Protocol) else load(protocol)
    isolation = run(proto, sample)
    before = characterize(sample, seed)
    after = characterize(isolation.isolate, seed)
    result = outcome(isolation)
    return Experiment(isolation, before, after, result,
                      build(isolation, after, result, command))
