"""PhysiCell's signal and behavior dictionary, mapped onto evniche's names.

PhysiCell (core/PhysiCell_signal_behavior.cpp) names signals and behaviors in words: a
substrate's name (``oxygen``), ``pressure``, ``contact with X``, ``dead``; ``cycle entry``,
``apoptosis``, ``X secretion``, ``transform to X``, ``attack X``. Each name here either maps
onto an evniche signal or behavior (:mod:`evniche.spec.signals`), with the unit PhysiCell
gives its numbers in (rates per minute), or is refused with the reason. Nothing is guessed:
a name evniche has no counterpart for is refused, never approximated by a different thing.

Units: PhysiCell rates are per minute; substrate densities are in the units the settings
XML declares per substrate (often "dimensionless" or mmHg). evniche cytokines are number
concentrations; a substrate's density is carried over number for number as a concentration
per mL (an assumption stated in each parameter's provenance).
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: signals PhysiCell knows that evniche has no counterpart for, with the reason
REFUSED_SIGNALS: dict[str, str] = {
    "pressure": "evniche's agents feel no mechanical pressure (its crowding is a global "
                "death term of the hematopoiesis core, not a per-cell signal)",
    "volume": "evniche's agents have no volume",
    "contact with live cell": "evniche has no contact signals (fraction:X is the share of "
                              "all marrow cells, a global quantity, not contact)",
    "contact with dead cell": "evniche removes a cell when it dies: there are no dead cells "
                              "to touch",
    "contact with apoptotic cell": "evniche removes a cell when it dies: there are no dead "
                                   "cells to touch",
    "contact with necrotic cell": "evniche removes a cell when it dies: there are no dead "
                                  "cells to touch",
    "contact with other dead cell": "evniche removes a cell when it dies: there are no dead "
                                    "cells to touch",
    "contact with basement membrane": "evniche's marrow section has no basement membrane",
    "damage": "evniche's cells carry no damage variable (killing is a rate, not accumulated "
              "damage)",
    "damage delivered": "evniche's killers carry no delivered-damage tally",
    "attacking": "evniche's killing is a rate, not a timed attack state",
    "total attack time": "evniche's killing is a rate, not a timed attack state",
    "dead": "evniche removes a cell when it dies: a rule cannot read 'dead'",
    "apoptotic": "evniche removes a cell when it dies: a rule cannot read 'apoptotic'",
    "necrotic": "evniche removes a cell when it dies: a rule cannot read 'necrotic'",
    "time": "evniche's rules read no clock (time-scheduled changes are interventions)",
}
SIGNAL_SYNONYMS = {
    "contact with live cells": "contact with live cell",
    "contact with dead cells": "contact with dead cell",
    "contact with apoptotic cells": "contact with apoptotic cell",
    "contact with necrotic cells": "contact with necrotic cell",
    "contact with other dead cells": "contact with other dead cell",
    "contact with BM": "contact with basement membrane",
    "total damage delivered": "damage delivered",
    "is attacking": "attacking",
    "is dead": "dead",
    "current time": "time",
    "global time": "time",
    "is_apoptotic": "apoptotic",
    "is_necrotic": "necrotic",
}

#: behaviors PhysiCell knows that evniche has no counterpart for, with the reason
_MOTION = "evniche's motility is an engine setting (docs/spatial.md), not a rule behavior"
REFUSED_BEHAVIORS: dict[str, str] = {
    "migration speed": _MOTION,
    "migration bias": _MOTION,
    "migration persistence time": _MOTION,
    "cell-cell adhesion": "evniche's adhesion is an engine setting, not a rule behavior",
    "cell-cell adhesion elastic constant": "evniche has no elastic cell attachments",
    "relative maximum adhesion distance": "evniche's adhesion is an engine setting",
    "cell-cell repulsion": "evniche's repulsion is an engine setting, not a rule behavior",
    "cell-BM adhesion": "evniche's marrow section has no basement membrane",
    "cell-BM repulsion": "evniche's marrow section has no basement membrane",
    "phagocytose apoptotic cell": "evniche removes a cell when it dies: no dead cells to eat",
    "phagocytose necrotic cell": "evniche removes a cell when it dies: no dead cells to eat",
    "phagocytose other dead cell": "evniche removes a cell when it dies: no dead cells to eat",
    "is_movable": "every evniche agent moves",
    "cell attachment rate": "evniche has no elastic cell attachments",
    "cell detachment rate": "evniche has no elastic cell attachments",
    "maximum number of cell attachments": "evniche has no elastic cell attachments",
    "attack damage rate": "evniche's killing is a rate, not accumulated damage",
    "attack duration": "evniche's killing is a rate, not a timed attack",
    "damage rate": "evniche's cells carry no damage variable",
    "damage repair rate": "evniche's cells carry no damage variable",
}
BEHAVIOR_SYNONYMS = {
    "exit from cycle phase 0": "cycle entry",
    "phagocytosis of apoptotic cell": "phagocytose apoptotic cell",
    "phagocytosis of apoptotic cells": "phagocytose apoptotic cell",
    "phagocytosis of necrotic cell": "phagocytose necrotic cell",
    "phagocytosis of necrotic cells": "phagocytose necrotic cell",
    "phagocytosis of other dead cell": "phagocytose other dead cell",
    "phagocytosis of other dead cells": "phagocytose other dead cell",
    "cell-membrane adhesion": "cell-BM adhesion",
    "cell-membrane repulsion": "cell-BM repulsion",
    "movable": "is_movable",
    "is movable": "is_movable",
}


class Refused(Exception):
    """A name evniche cannot represent; the message is the reason."""


@dataclass(frozen=True)
class Vocabulary:
    """What a PhysiCell project defines: its substrates and cell types (by name and ID)."""

    substrates: tuple[str, ...]
    cell_types: tuple[str, ...]
    cell_ids: dict[str, str] = field(default_factory=dict)  # "0" → name

    def cell(self, text: str) -> str | None:
        """A cell type named ``text`` or ``cell type N`` (PhysiCell's synonym), else None."""
        text = text.strip()
        if text in self.cell_types:
            return text
        if text.startswith("cell type "):
            return self.cell_ids.get(text[len("cell type "):].strip())
        return self.cell_ids.get(text) if text.isdigit() else None


@dataclass(frozen=True)
class Signal:
    """An evniche signal for a PhysiCell signal: the name and the unit of its half-max."""

    name: str
    unit: str
    note: str = ""


@dataclass(frozen=True)
class Behavior:
    """An evniche behavior for a PhysiCell behavior.

    ``physicell``: the canonical PhysiCell name; ``unit``: the unit PhysiCell's numbers
    for it are in; ``target``: for a transformation, the cell type cells become."""

    name: str
    physicell: str
    unit: str
    target: str | None = None


def signal(text: str, vocab: Vocabulary) -> Signal:
    """The evniche signal for PhysiCell's signal ``text``, or :class:`Refused`."""
    text = " ".join(text.split())
    text = SIGNAL_SYNONYMS.get(text, text)
    if text in vocab.substrates:
        return Signal(f"cytokine:{text}", "1/mL",
                      "a substrate density, number for number as a concentration per mL")
    if text in REFUSED_SIGNALS:
        raise Refused(REFUSED_SIGNALS[text])
    for prefix in ("intracellular ", "internalized "):
        if text.startswith(prefix) and text[len(prefix):] in vocab.substrates:
            raise Refused("evniche tracks no internalized substrates (only the cargo of "
                          "EVs a cell has taken up)")
    for form in ("{} gradient", "grad({})", "gradient of {}"):
        if any(text == form.format(s) for s in vocab.substrates):
            raise Refused("evniche's rules read concentrations, not gradients")
    if text.startswith("contact with "):
        if vocab.cell(text[len("contact with "):]) is not None:
            raise Refused("evniche has no contact signals (fraction:X is the share of all "
                          "marrow cells, a global quantity, not contact)")
    if text.startswith(("custom:", "custom ")):
        raise Refused("evniche's cells carry no custom data")
    if text.startswith("immunogenicity to "):
        raise Refused("evniche's cells carry no immunogenicity")
    raise Refused(f"'{text}' is not in PhysiCell's signal dictionary for this project "
                  f"(substrates: {', '.join(vocab.substrates) or 'none'}; cell types: "
                  f"{', '.join(vocab.cell_types) or 'none'})")


def behavior(text: str, vocab: Vocabulary) -> Behavior:
    """The evniche behavior for PhysiCell's behavior ``text``, or :class:`Refused`."""
    text = " ".join(text.split())
    text = BEHAVIOR_SYNONYMS.get(text, text)
    if text == "cycle entry":
        return Behavior("proliferation", text, "1/min")
    if text.startswith("exit from cycle phase "):
        raise Refused("evniche's division is one rate (cycle entry); later cycle phases are "
                      "not represented")
    if text in ("apoptosis", "necrosis"):
        return Behavior("death", text, "1/min")
    for sub in vocab.substrates:
        if text in (f"{sub} secretion", f"secretion of {sub}"):
            return Behavior(f"production:{sub}", f"{sub} secretion", "1/min")
        if text in (f"{sub} secretion target", f"{sub} secretion saturation density"):
            raise Refused("evniche's production is a rate per cell with no target density")
        if text in (f"{sub} uptake", f"uptake of {sub}"):
            raise Refused("evniche's cells do not take up cytokines (only EVs, through uptake "
                          "routes)")
        if text in (f"{sub} export", f"export of {sub}"):
            raise Refused("evniche's production is a rate per cell with a target density "
                          "left out; a net export is not represented")
        if text in (f"chemotactic response to {sub}", f"chemotactic sensitivity to {sub}"):
            raise Refused("evniche's chemotaxis is an engine setting (one chemoattractant), "
                          "not a rule behavior")
    if text in REFUSED_BEHAVIORS:
        raise Refused(REFUSED_BEHAVIORS[text])
    for prefix in ("transform to ", "transition to "):
        if text.startswith(prefix):
            target = vocab.cell(text[len(prefix):])
            if target is not None:
                return Behavior("exit", f"transform to {target}", "1/min", target)
    for prefix in ("attack ", "phagocytose ", "phagocytosis of "):
        if text.startswith(prefix):
            target = vocab.cell(text[len(prefix):])
            if target is not None:
                return Behavior(f"kill:{target}", f"{prefix.strip()} {target}", "1/min",
                                target)
    for prefix, reason in (("fuse to ", "evniche's cells do not fuse"),
                           ("asymmetric division to ",
                            "evniche's divisions give daughters by self-renewal and "
                            "differentiation fractions, not asymmetric-division rates"),
                           ("adhesive affinity to ", "evniche's adhesion is an engine "
                                                     "setting"),
                           ("immunogenicity to ", "evniche's cells carry no immunogenicity"),
                           ("custom:", "evniche's cells carry no custom data"),
                           ("custom ", "evniche's cells carry no custom data")):
        if text.startswith(prefix):
            raise Refused(reason)
    raise Refused(f"'{text}' is not in PhysiCell's behavior dictionary for this project "
                  f"(substrates: {', '.join(vocab.substrates) or 'none'}; cell types: "
                  f"{', '.join(vocab.cell_types) or 'none'})")
