"""The whitelisting formula parser: what it computes, what it refuses, and that it never
hands text to ``eval``/``exec``."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest

from evniche import expressions, units
from evniche.errors import ModelError

PACKAGE = Path(expressions.__file__).resolve().parent


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("2", {}, 2.0),
        ("1.5e3", {}, 1500.0),
        ("a + b", {"a": 1.0, "b": 2.0}, 3.0),
        ("a - b * c", {"a": 10.0, "b": 2.0, "c": 3.0}, 4.0),
        ("(a - b) * c", {"a": 10.0, "b": 2.0, "c": 3.0}, 24.0),
        ("a / b", {"a": 1.0, "b": 4.0}, 0.25),
        ("a ** 2", {"a": 3.0}, 9.0),
        ("-a", {"a": 3.0}, -3.0),
        ("+a", {"a": 3.0}, 3.0),
        ("ln(2) / t_half", {"t_half": 0.5}, math.log(2) / 0.5),
        ("log(e)", {}, 1.0),
        ("log10(1000)", {}, 3.0),
        ("exp(0)", {}, 1.0),
        ("sqrt(x)", {"x": 16.0}, 4.0),
        ("min(a, b, 7)", {"a": 3.0, "b": 5.0}, 3.0),
        ("max(a, b)", {"a": 3.0, "b": 5.0}, 5.0),
        ("abs(-x)", {"x": 2.0}, 2.0),
        ("2 * pi * r", {"r": 1.0}, 2 * math.pi),
        ("  a  ", {"a": 1.0}, 1.0),
    ],
)
def test_allowed_formulas_evaluate(text: str, values: dict, expected: float) -> None:
    formula = expressions.parse(text)
    assert formula.evaluate(values) == pytest.approx(expected)
    assert formula.names == frozenset(values)


def test_names_exclude_functions_and_constants() -> None:
    formula = expressions.parse("ln(2) * pi * e / k_deg + max(x, 1)")
    assert formula.names == frozenset({"k_deg", "x"})


def test_formulas_work_with_pint_quantities() -> None:
    q = units.Quantity
    # half-life 30 min -> degradation rate ln(2)/t in 1/h
    rate = expressions.parse("ln(2) / t_half").evaluate({"t_half": q(30, "minute")})
    assert rate.to("1/hour").magnitude == pytest.approx(2 * math.log(2))
    # secretion per cell times cell count: EV per hour
    flux = expressions.parse("s * n").evaluate({"s": q(100, "EV/cell/h"), "n": q(1e6, "cell")})
    assert flux.to("1/day").magnitude == pytest.approx(100 * 1e6 * 24)
    # lengths add up across units; powers of quantities keep their dimension
    total = expressions.parse("a + b").evaluate({"a": q(1, "um"), "b": q(500, "nm")})
    assert total.to("micrometre").magnitude == pytest.approx(1.5)
    area = expressions.parse("pi * (d / 2) ** 2").evaluate({"d": q(2, "um")})
    assert area.to("micrometre**2").magnitude == pytest.approx(math.pi)


def test_adding_quantities_of_different_dimension_is_a_model_error() -> None:
    q = units.Quantity
    with pytest.raises(ModelError, match="cannot be computed"):
        expressions.parse("a + b").evaluate({"a": q(1, "um"), "b": q(1, "hour")})


def test_division_by_zero_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="divides by zero"):
        expressions.parse("a / b").evaluate({"a": 1.0, "b": 0.0})


def test_math_domain_error_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="cannot be computed"):
        expressions.parse("ln(x)").evaluate({"x": -1.0})
    with pytest.raises(ModelError, match="cannot be computed"):
        expressions.parse("sqrt()").evaluate({})


def test_unknown_name_at_evaluation_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="unknown parameter 'missing'"):
        expressions.parse("2 * missing").evaluate({})


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("__import__('os').system('true')", "functions"),
        ("__import__", ""),  # a bare dunder name is just an unknown parameter, see below
        ("open('x')", "functions"),
        ("eval('1')", "functions"),
        ("exec('1')", "functions"),
        ("getattr(a, 'b')", "functions"),
        ("a.b", "Attribute"),
        ("(1).__class__", "Attribute"),
        ("ln.__globals__", "Attribute"),
        ("a[0]", "Subscript"),
        ("a[1:2]", "Subscript"),
        ("lambda: 1", "Lambda"),
        ("[x for x in a]", "ListComp"),
        ("{x for x in a}", "SetComp"),
        ("{x: 1 for x in a}", "DictComp"),
        ("sum(x for x in a)", "functions"),
        ("(x for x in a)", "GeneratorExp"),
        ("'abc'", "only numbers"),
        ("b'abc'", "only numbers"),
        ("f'{a}'", "JoinedStr"),
        ("True", "only numbers"),
        ("None", "only numbers"),
        ("1j", "only numbers"),
        ("...", "only numbers"),
        ("max(a, key=b)", "keyword arguments"),
        ("max(*a)", "Starred"),
        ("(y := 2)", "NamedExpr"),
        ("a < b", "Compare"),
        ("a == b", "Compare"),
        ("a and b", "BoolOp"),
        ("a or b", "BoolOp"),
        ("not a", "Not"),
        ("~a", "Invert"),
        ("a if b else c", "IfExp"),
        ("a % b", "Mod"),
        ("a // b", "FloorDiv"),
        ("a @ b", "MatMult"),
        ("a << 1", "LShift"),
        ("a | b", "BitOr"),
        ("a ^ b", "BitXor"),
        ("a & b", "BitAnd"),
        ("[1, 2]", "List"),
        ("(1, 2)", "Tuple"),
        ("{1: 2}", "Dict"),
        ("{1}", "Set"),
        ("ln(2)(3)", "functions"),
        ("await a", "Await"),
        ("yield", "syntax"),
        ("a = 1", "syntax"),
        ("import os", "syntax"),
        ("1 +", "syntax"),
        ("", "non-empty"),
        ("   ", "non-empty"),
        ("a" * 501, "longer than 500"),
    ],
)
def test_disallowed_constructs_are_refused(text: str, words: str) -> None:
    if text == "__import__":
        # A bare name is a parameter reference, never looked up in builtins.
        formula = expressions.parse(text)
        assert formula.names == frozenset({"__import__"})
        with pytest.raises(ModelError, match="unknown parameter"):
            formula.evaluate({})
        return
    with pytest.raises(ModelError) as info:
        expressions.parse(text, "parameters.x.expr")
    assert info.value.path == "parameters.x.expr"
    assert words in info.value.message


def test_non_string_formula_is_refused() -> None:
    for bad in (None, 3, ["a"], {"a": 1}):
        with pytest.raises(ModelError, match="non-empty string"):
            expressions.parse(bad)  # type: ignore[arg-type]


def test_builtins_are_not_reachable_by_name() -> None:
    # names resolve only through the values given, the whitelisted functions and constants
    for name in ("print", "open", "__builtins__", "globals", "os"):
        with pytest.raises(ModelError, match="unknown parameter"):
            expressions.parse(f"2 * {name}").evaluate({})


def _dangerous_calls(tree: ast.AST) -> list[str]:
    """Calls of eval/exec/compile/__import__ by name, and of ``<anything>.eval/exec``
    (``builtins.eval``); ``re.compile`` is harmless and allowed."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in {"eval", "exec", "compile", "__import__"}:
            found.append(f"{func.id} at line {node.lineno}")
        elif isinstance(func, ast.Attribute) and func.attr in {"eval", "exec"}:
            found.append(f".{func.attr} at line {node.lineno}")
    return found


def test_package_source_never_calls_eval_or_exec() -> None:
    sources = sorted(PACKAGE.rglob("*.py"))
    assert len(sources) > 10  # the whole package, not an empty folder
    offenders = {}
    for path in sources:
        text = path.read_text(encoding="utf-8")
        calls = _dangerous_calls(ast.parse(text))
        if calls:
            offenders[str(path.relative_to(PACKAGE))] = calls
    assert offenders == {}


def test_expressions_module_has_no_eval_text() -> None:
    # belt and braces: not even an indirect reference such as builtins.eval
    code_lines = [line.split("#")[0] for line in
                  Path(expressions.__file__).read_text(encoding="utf-8").splitlines()]
    code = "\n".join(code_lines)
    for word in ("eval(", "exec(", "compile(", "builtins", "getattr("):
        assert word not in code
