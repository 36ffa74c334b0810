"""Code that reaches for the grader's own machinery, found in the notebook's source.

Homework has no reason to touch the probe, the kernel's output channel, the closures of
framework methods or the facts checkpoint; a notebook that does is trying to change what the
grader records. Each finding names the cell and what was reached for; the score stage treats
any finding as tampering (no check points, flagged for review). Read from the syntax tree, so
comments and strings a student prints do not count, except strings naming the grader's own
channel or files, which only forging code has a use for.
"""

from __future__ import annotations

import ast

# Attributes that lead into the probe or the kernel's output channel, or into function internals.
_ATTRIBUTES = {
    "display_pub": "the kernel's display publisher",
    "iopub_socket": "the kernel's output socket",
    "iopub_thread": "the kernel's output thread",
    "__closure__": "a function's closure (the grader's wrappers)",
    "cell_contents": "a function's closure (the grader's wrappers)",
    "__code__": "a function's code object",
    "__globals__": "a function's globals",
    "meta_path": "the import system's finders (the grader's import hook)",
    "_getframe": "the interpreter's call frames",
}
_NAMES = {
    "publish_display_data": "the kernel's display publisher",
    "get_objects": "every object in the interpreter (gc.get_objects)",
    "get_referrers": "the objects referring to an object (gc.get_referrers)",
}
_STRINGS = ("_grader_probe", "x-grader-facts", "facts-checkpoint", "grader-probe", "<grader-")
_REPLACED = {("json", "dumps"), ("json", "dump"), ("json", "loads"), ("sys", "meta_path"), ("builtins", "print")}
MAX_FINDINGS = 10


def reaching_for_internals(code_cells: tuple[tuple[int, str], ...] | list[tuple[int, str]]) -> list[str]:
    """One line per finding, ``cell 4: reaches for the kernel's display publisher (display_pub)``."""
    findings: list[str] = []
    for cell, source in code_cells:
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        seen: set[str] = set()
        for node in ast.walk(tree):
            what = _finding(node)
            if what and what not in seen:
                seen.add(what)
                findings.append(f"cell {cell}: {what}")
        if len(findings) >= MAX_FINDINGS:
            break
    return findings[:MAX_FINDINGS]


def _finding(node: ast.AST) -> str | None:
    if isinstance(node, ast.Attribute) and node.attr in _ATTRIBUTES:
        return f"reaches for {_ATTRIBUTES[node.attr]} ({node.attr})"
    if isinstance(node, ast.Name) and node.id in _NAMES:
        return f"reaches for {_NAMES[node.id]} ({node.id})"
    if isinstance(node, ast.Attribute) and node.attr in _NAMES:
        return f"reaches for {_NAMES[node.attr]} ({node.attr})"
    if isinstance(node, ast.ImportFrom) and any(alias.name in _NAMES for alias in node.names):
        name = next(alias.name for alias in node.names if alias.name in _NAMES)
        return f"reaches for {_NAMES[name]} ({name})"
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        hit = next((text for text in _STRINGS if text in node.value), None)
        if hit:
            return f"names the grader's internals ({hit!r})"
    if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
                if (target.value.id, target.attr) in _REPLACED:
                    return f"replaces {target.value.id}.{target.attr}"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id in ("vars", "dir") and _names_sys(node.args):
            return f"reaches into sys ({node.func.id}(sys))"
        if node.func.id in ("getattr", "setattr", "delattr") and _names_sys(node.args[:1]):
            return f"reaches into sys by name ({node.func.id}(sys, ...))"
    if isinstance(node, ast.Attribute) and node.attr == "__dict__" and _names_sys([node.value]):
        return "reaches into sys (sys.__dict__)"
    return None


def _names_sys(nodes: list[ast.expr]) -> bool:
    return bool(nodes) and isinstance(nodes[0], ast.Name) and nodes[0].id == "sys"
