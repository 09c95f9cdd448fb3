"""A whitelisting parser for the formulas a model file may hold.

A formula is parsed with :mod:`ast` and every node is checked against an allow-list;
it is then evaluated by walking the tree. Nothing is ever passed to ``eval`` or ``exec``.
Allowed: numbers, names of parameters, + - * / ** and unary minus, parentheses and the
functions in FUNCTIONS.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .errors import ModelError

FUNCTIONS: dict[str, Callable[..., float]] = {
    "ln": math.log,
    "log": math.log,
    "log10": math.log10,
    "exp": math.exp,
    "sqrt": math.sqrt,
    "min": min,
    "max": max,
    "abs": abs,
}
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}

_BINARY = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}
_UNARY = {ast.USub: lambda a: -a, ast.UAdd: lambda a: a}
MAX_LENGTH = 500


@dataclass(frozen=True)
class Formula:
    """A parsed, checked formula. ``names`` are the parameter names it refers to."""

    text: str
    tree: ast.Expression
    names: frozenset[str]

    def evaluate(self, values: Mapping[str, object]) -> object:
        """Evaluate with ``values`` (floats or pint quantities) for the names."""
        return _evaluate(self.tree.body, values, self.text)


def parse(text: str, path: str = "") -> Formula:
    """Parse ``text`` into a Formula, or raise a ModelError naming ``path``."""
    if not isinstance(text, str) or not text.strip():
        raise ModelError("expected a formula (a non-empty string)", path)
    if len(text) > MAX_LENGTH:
        raise ModelError(f"formula longer than {MAX_LENGTH} characters", path)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ModelError(f"formula '{text}' is not valid syntax ({exc.msg})", path) from None
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expression | ast.Load):
            continue
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, int | float):
                raise ModelError(f"formula '{text}': only numbers are allowed as literals", path)
        elif isinstance(node, ast.Name):
            if node.id not in FUNCTIONS:
                names.add(node.id)
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                raise ModelError(
                    f"formula '{text}': operator {type(node.op).__name__} is not allowed", path
                )
        elif isinstance(node, ast.UnaryOp):
            if type(node.op) not in _UNARY:
                raise ModelError(
                    f"formula '{text}': operator {type(node.op).__name__} is not allowed", path
                )
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                raise ModelError(
                    f"formula '{text}': only the functions {sorted(FUNCTIONS)} may be called",
                    path,
                )
            if node.keywords:
                raise ModelError(f"formula '{text}': keyword arguments are not allowed", path)
        elif isinstance(node, ast.operator | ast.unaryop):
            continue
        else:
            raise ModelError(
                f"formula '{text}': {type(node).__name__} is not allowed in a formula", path
            )
    return Formula(text.strip(), tree, frozenset(names - set(CONSTANTS)))


def _evaluate(node: ast.AST, values: Mapping[str, object], text: str) -> object:
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        if node.id in values:
            return values[node.id]
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        raise ModelError(f"formula '{text}' refers to unknown parameter '{node.id}'")
    if isinstance(node, ast.BinOp):
        left = _evaluate(node.left, values, text)
        right = _evaluate(node.right, values, text)
        try:
            return _BINARY[type(node.op)](left, right)
        except ZeroDivisionError:
            raise ModelError(f"formula '{text}' divides by zero") from None
        except Exception as exc:
            raise ModelError(f"formula '{text}' cannot be computed: {exc}") from None
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_evaluate(node.operand, values, text))
    if isinstance(node, ast.Call):
        args = [_evaluate(arg, values, text) for arg in node.args]
        try:
            return FUNCTIONS[node.func.id](*args)  # type: ignore[union-attr]
        except Exception as exc:
            raise ModelError(f"formula '{text}' cannot be computed: {exc}") from None
    raise ModelError(f"formula '{text}': {type(node).__name__} is not allowed")
