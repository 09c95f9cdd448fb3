"""The names rules may use: signals a cell senses and behaviors a rule changes.

Signals (what a cell of the rule's type senses)::

    cargo:<cargo>              internalized copies per cell            (dimensionless)
    uptake:<source>[.<class>]  EVs taken up per cell per time          (rate)
    ev:<source>.<class>        EV concentration in the cell's compartment (concentration)
    cytokine:<name>            cytokine concentration in the marrow    (concentration)
    state:<var>                a state variable of the cell's own type (dimensionless)
    drug:<name>                plasma drug concentration               (molar)
    fraction:<cell type>       share of all marrow cells               (dimensionless)

Behaviors (what a rule changes)::

    proliferation | death | exit                 (rate)
    drug_death                                    (rate: added to death; rules on death
                                                   and homeostasis leave it alone)
    self_renewal                                  (dimensionless, 0..1)
    division_failure                              (dimensionless, 0..1: failed divisions)
    mutation                                      (dimensionless, 0..1: per daughter cell)
    secretion:<class>[.<subset>]                  (rate: EVs per cell per time)
    production:<cytokine>                         (rate: molecules per cell per time)
    uptake:<class>                                (dimensionless multiplier of uptake, base 1)
    state:<var>                                   (dimensionless target)
    kill:<target cell type>                       (rate)
"""

from __future__ import annotations

from dataclasses import dataclass

SIGNAL_KINDS = {
    "cargo": "dimensionless",
    "uptake": "rate",
    "ev": "concentration",
    "cytokine": "concentration",
    "state": "dimensionless",
    "drug": "molar",
    "fraction": "dimensionless",
}

BEHAVIOR_KINDS = {
    "proliferation": "rate",
    "death": "rate",
    "drug_death": "rate",
    "exit": "rate",
    "self_renewal": "dimensionless",
    "division_failure": "dimensionless",
    "mutation": "dimensionless",
    "secretion": "rate",
    "production": "rate",
    "uptake": "dimensionless",
    "state": "dimensionless",
    "kill": "rate",
}
#: behaviors that take no argument after a colon
PLAIN_BEHAVIORS = {"proliferation", "death", "exit", "self_renewal", "division_failure",
                   "mutation", "drug_death"}


@dataclass(frozen=True)
class Name:
    """A parsed signal or behavior name: ``kind`` and its argument (may be empty)."""

    kind: str
    argument: str = ""

    def __str__(self) -> str:
        return f"{self.kind}:{self.argument}" if self.argument else self.kind


def split(text: str) -> Name:
    kind, _, argument = text.strip().partition(":")
    return Name(kind.strip(), argument.strip())
