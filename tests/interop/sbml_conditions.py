"""What libRoadRunner watches in an SBML file: every condition of a ``piecewise`` in a rule
or a kinetic law is a root of its CVODE run, and each change of one restarts CVODE with
its absolute tolerances recomputed as 1e-12 × each species' current amount (libRoadRunner
2.10: ``CVODEIntegrator::reInit`` → ``setCVODETolerances``). A species growing from 0
holds 1e-70 and less just after the start, so a condition that changes then holds it to
1e-80 and CVODE fails its error test (the aml export did until the floors became ``max``).
"""

from __future__ import annotations

import libsbml

#: the one condition on species an export may hold: the share denominator ``n_total`` is 1
#: only when the marrow holds no counted cell, which no run reaches
GUARDED = {"n_total"}


def _names(node) -> set[str]:
    out = {node.getName()} if node.getType() == libsbml.AST_NAME else set()
    for i in range(node.getNumChildren()):
        out |= _names(node.getChild(i))
    return out


def _conditions(node) -> list:
    out = []
    if node.getType() == libsbml.AST_FUNCTION_PIECEWISE:
        out += [node.getChild(i) for i in range(1, node.getNumChildren(), 2)]
    for i in range(node.getNumChildren()):
        out += _conditions(node.getChild(i))
    return out


def continuous_conditions(text: str) -> list[str]:
    """The ``piecewise`` conditions of rules and kinetic laws (outside ``GUARDED``) that can
    change between events: those naming anything but parameters that only events assign
    (window flags, parameters of parameter windows), as ``where: condition``."""
    model = libsbml.readSBMLFromString(text).getModel()
    by_event = {model.getParameter(i).getId() for i in range(model.getNumParameters())
                if not model.getParameter(i).getConstant()
                and model.getRule(model.getParameter(i).getId()) is None}
    maths = [(model.getRule(i).getVariable(), model.getRule(i).getMath())
             for i in range(model.getNumRules())
             if model.getRule(i).getVariable() not in GUARDED]
    maths += [(model.getReaction(i).getId(), model.getReaction(i).getKineticLaw().getMath())
              for i in range(model.getNumReactions())]
    return [f"{where}: {libsbml.formulaToL3String(cond)}" for where, math in maths
            for cond in _conditions(math) if not _names(cond) <= by_event]


def floors(text: str) -> int:
    """How many ``max`` (floors at zero) the rules and kinetic laws hold."""
    model = libsbml.readSBMLFromString(text).getModel()

    def count(node) -> int:
        return (node.getType() == libsbml.AST_FUNCTION_MAX) + sum(
            count(node.getChild(i)) for i in range(node.getNumChildren()))

    return (sum(count(model.getRule(i).getMath()) for i in range(model.getNumRules()))
            + sum(count(model.getReaction(i).getKineticLaw().getMath())
                  for i in range(model.getNumReactions())))
