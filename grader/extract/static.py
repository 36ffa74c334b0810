"""What the code says it does, read from its syntax tree without running it.

The fallback for code that failed or never ran: which variables hold a model with which
layers, and which of them are fit, evaluated or used to predict. It proves only that the code
was written; whether it ran comes from the kernel's facts or, unverified, from saved outputs.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from grader.extract.cells import read_cell
from grader.models import StaticCall, StaticFacts, StaticModel

_MODEL_BUILDERS = {"Sequential", "Model", "Module", "ModuleList"}
_TRAINING_OUTPUT = re.compile(r"Epoch \d+/\d+|\d+/\d+ \[[=>.\s]*\]|\bloss[:=]\s*\d", re.IGNORECASE)


@dataclass
class _Scan:
    builders: dict[str, tuple[list[str], list[float | None]]] = field(default_factory=dict)
    layer_lists: dict[str, tuple[list[str], list[float | None]]] = field(default_factory=dict)
    models: dict[str, StaticModel] = field(default_factory=dict)
    calls: list[StaticCall] = field(default_factory=list)


def static_facts(notebook) -> StaticFacts:
    scan = _Scan()
    for index, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "code" or read_cell(index, cell).kind != "code":
            continue
        tree = _parse(read_cell(index, cell).code)
        if tree is None:
            continue
        trained_in_output = bool(_TRAINING_OUTPUT.search(_output_text(cell)))
        _collect_builders(tree, scan)
        _collect_models(tree, index, scan)
        _collect_calls(tree, index, trained_in_output, scan)
    return StaticFacts(tuple(scan.models.values()), tuple(scan.calls))


def _parse(source: str) -> ast.Module | None:
    runnable = "\n".join("" if re.match(r"^\s*[!%]", line) else line for line in source.splitlines())
    try:
        return ast.parse(runnable)
    except SyntaxError:
        return None


def _output_text(cell) -> str:
    parts = []
    for output in cell.get("outputs", []) or []:
        text = output.get("text") or (output.get("data", {}) or {}).get("text/plain", "")
        parts.append("".join(text) if isinstance(text, list) else str(text))
    return "\n".join(parts)


def _layers_in(node: ast.AST) -> tuple[list[str], list[float | None]]:
    """Layer constructor calls under a node, with the dropout rate when it is a literal."""
    layers, rates = [], []
    for call in ast.walk(node):
        if not isinstance(call, ast.Call):
            continue
        name = _called_name(call.func)
        if name == "dropout":  # torch.nn.functional.dropout inside forward()
            layers.append("Dropout")
            rates.append(_rate(call))
        elif name[:1].isupper() and name not in _MODEL_BUILDERS:
            layers.append(name)
            rates.append(_rate(call) if "ropout" in name else None)
    return layers, rates


def _rate(call: ast.Call) -> float | None:
    candidates = list(call.args[:1]) + [k.value for k in call.keywords if k.arg in ("rate", "p")]
    for value in candidates:
        if isinstance(value, ast.Constant) and isinstance(value.value, (int, float)):
            return float(value.value)
    return None


def _called_name(func: ast.AST) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _collect_builders(tree: ast.Module, scan: _Scan) -> None:
    """Functions and classes that build a model: ``def build(): return Sequential([...])``."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            layers, rates = _layers_in(node)
            builds = any(
                isinstance(n, ast.Call) and _called_name(n.func) in _MODEL_BUILDERS for n in ast.walk(node)
            ) or isinstance(node, ast.ClassDef)
            if layers and builds:
                scan.builders[node.name] = (layers, rates)


def _collect_models(tree: ast.Module, cell: int, scan: _Scan) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, (ast.List, ast.Tuple)):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    scan.layer_lists[target.id] = _layers_in(node.value)
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            called = _called_name(node.value.func)
            if called in _MODEL_BUILDERS:
                layers, rates = _layers_in(node.value)
                for argument in node.value.args:
                    if isinstance(argument, ast.Name) and argument.id in scan.layer_lists:
                        listed, listed_rates = scan.layer_lists[argument.id]
                        layers, rates = layers + listed, rates + listed_rates
            elif called in scan.builders:
                layers, rates = scan.builders[called]
            else:
                continue
            for target in node.targets:
                if isinstance(target, ast.Name):
                    scan.models[target.id] = StaticModel(target.id, cell, tuple(layers), tuple(rates))
        elif isinstance(node, ast.Call) and _called_name(node.func) == "add" and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if isinstance(owner, ast.Name) and owner.id in scan.models:
                added, rates = _layers_in(node)
                model = scan.models[owner.id]
                scan.models[owner.id] = StaticModel(model.variable, model.cell, model.layers + tuple(added), model.rates + tuple(rates))


def _collect_calls(tree: ast.Module, cell: int, trained_in_output: bool, scan: _Scan) -> None:
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        method = node.func.attr
        owner = node.func.value
        if method in ("fit", "evaluate", "predict") and isinstance(owner, ast.Name):
            scan.calls.append(StaticCall(method, owner.id, cell, trained_in_output and method == "fit"))
