"""Whose fault a failing cell is: the grading environment's or the student's.

A cell fails because of the environment when it imports a package the grader does not provide,
reads a data file or downloads something the grader could not serve, needs a GPU, or calls an
API that a newer release removed. A later cell that fails only because such a cell did not define a name
(``NameError`` for a name the failed cell binds) is the same failure's consequence. Everything
else is the student's. Decided from the recorded errors and the cells' source alone, so a stored
run is attributed again without a kernel.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from typing import Literal

from grader.environment.packages import hosted_only, install_fix, pip_name
from grader.environment.removed_apis import removed_api_in_error
from grader.extract.cells import python_source, source_of
from grader.models import CellError, Execution

FLAG = "needs review: the grading environment could not run"
NOT_VERIFIED = "not verified: the grading environment could not run this"

_MISSING_MODULE = re.compile(r"No module named '([\w.]+)'")
_MISSING_FILE = re.compile(
    r"No such file or directory: '([^']+)'|Could not find directory:? '?([^\s']+)|File (\S+) does not exist"
)
_UNDEFINED = re.compile(r"name '(\w+)' is not defined")
_URL = re.compile(r"https?://[^\s'\"<>)]+")
_NETWORK = re.compile(
    r"URL fetch failure|Temporary failure in name resolution|Name or service not known|Network is unreachable"
    r"|urlopen error|Max retries exceeded|NameResolutionError|Failed to establish a new connection"
    r"|Connection refused|getaddrinfo failed|Error downloading",
    re.IGNORECASE,
)
_NO_GPU = re.compile(
    r"Found no NVIDIA driver|Torch not compiled with CUDA enabled|No CUDA GPUs are available"
    r"|CUDA driver initialization failed|no CUDA-capable device|CUDA unavailable",
    re.IGNORECASE,
)
_NO_ROOM_TO_LOAD = re.compile(r"failed to map segment|cannot allocate memory|Cannot allocate memory", re.IGNORECASE)
_IMPORT_LINE = re.compile(r"^\s*(?:import|from)\s+\w")
_NETWORK_ERRORS = {
    "URLError",
    "HTTPError",
    "ConnectionError",
    "gaierror",
    "ContentTooShortError",
    "ReadTimeout",
    "ConnectTimeout",
}
_FILE_ERRORS = {"FileNotFoundError", "OSError", "IOError", "NotFoundError"}

Kind = Literal["package", "hosted", "data_file", "download", "removed_api", "memory", "gpu", "consequence"]


@dataclass(frozen=True)
class EnvironmentFailure:
    cell: int
    kind: Kind
    error: str  # "ModuleNotFoundError: No module named 'torchvision'"
    what: str  # what the environment lacked
    fix: str  # what the instructor does about it
    cause: int | None = None  # for a consequence: the cell whose failure it follows

    def flag(self, cells: tuple[int, ...] = ()) -> str:
        """The flag for review; ``cells``: every cell this same failure stopped (one file read in four cells)."""
        where = f"cells {', '.join(map(str, cells))}" if len(cells) > 1 else f"cell {self.cell}"
        return f"{FLAG} {where} ({self.error[:200]}): {self.what}; fix: {self.fix}"


def environment_failures(execution: Execution) -> tuple[EnvironmentFailure, ...]:
    """The run's failing cells that the environment caused, in cell order (consequences included)."""
    if execution.mode == "no-run" or not execution.cell_errors:
        return ()
    cells = execution.notebook.get("cells", [])
    found: list[EnvironmentFailure] = []
    unbound: dict[str, int] = {}  # name -> the environment-failed cell that should have bound it
    for error in sorted(execution.cell_errors, key=lambda e: e.cell):
        source = source_of(cells[error.cell]) if 0 <= error.cell < len(cells) else ""
        failure = classify(error) or _consequence(error, source, unbound)
        if failure is None:
            continue
        found.append(failure)
        for name in bound_names(source, after=error.line):
            unbound.setdefault(name, failure.cause if failure.cause is not None else failure.cell)
    return tuple(found)


def classify(error: CellError) -> EnvironmentFailure | None:
    """The environment failure this cell error is, or None when it is the student's own."""
    text = f"{error.ename}: {error.evalue}".strip()
    if _NO_ROOM_TO_LOAD.search(error.evalue) or (error.ename == "MemoryError" and _IMPORT_LINE.match(error.line)):
        return EnvironmentFailure(error.cell, "memory", text, "a library could not load within the kernel's memory limit",
                                  "raise the limit in assignment.yaml, e.g. `sandbox: {memory: 8 GiB}`")  # fmt: skip
    if error.ename in ("ModuleNotFoundError", "ImportError"):
        return _import_failure(error, text)
    if _NO_GPU.search(error.evalue):
        return EnvironmentFailure(error.cell, "gpu", text, "the code asks for a CUDA GPU, which the grading machine lacks"
                                  " (the grader runs .to('cuda') and .cuda() on the CPU; this call was another)",
                                  "grade this by hand, or ask the student to create tensors on `device` with a CPU fallback")  # fmt: skip
    api = removed_api_in_error(error.ename, error.evalue)
    if api is not None:
        return _removed_api_failure(error, text, api)
    if error.ename in _NETWORK_ERRORS or _NETWORK.search(error.evalue):
        url = _URL.search(error.evalue)
        where = url.group(0) if url else "the network"
        return EnvironmentFailure(error.cell, "download", text, f"the grader runs offline and could not download {where}",
                                  "serve the data offline: run `grader doctor` on the class for the `datasets:` or `files:` line")  # fmt: skip
    missing = _MISSING_FILE.search(error.evalue)
    if missing and (error.ename in _FILE_ERRORS or "No such file" in error.evalue):
        path = next(group for group in missing.groups() if group)
        name = file_name(path)
        return EnvironmentFailure(error.cell, "data_file", text, f"the notebook reads {path}, which the grader was not given",
                                  f"put {name} in the assignment folder and list it under `files:` in assignment.yaml")  # fmt: skip
    return None


def _import_failure(error: CellError, text: str) -> EnvironmentFailure | None:
    missing = _MISSING_MODULE.search(error.evalue)
    api = removed_api_in_error(error.ename, error.evalue)
    if api is not None:
        return _removed_api_failure(error, text, api)
    if missing is None:
        return None
    module = missing.group(1)
    service = hosted_only(module)
    if service is not None:
        return EnvironmentFailure(error.cell, "hosted", text, f"{module} exists only on {service}", install_fix(module))
    if "." in module:
        # Python names the first missing part: the package itself is installed, one of its modules is not.
        return EnvironmentFailure(error.cell, "removed_api", text, f"{module} is not in the installed {module.split('.')[0]}",
                                  "the code needs a newer import path; grade this by hand or ask the student for a fixed notebook")  # fmt: skip
    return EnvironmentFailure(error.cell, "package", text, f"the package {pip_name(module)} is not installed for the kernel",
                              install_fix(module))  # fmt: skip


def _removed_api_failure(error: CellError, text: str, api) -> EnvironmentFailure:
    translation = (
        "the grader's translation did not cover this call" if api.translated else "the grader has no translation"
    )
    return EnvironmentFailure(error.cell, "removed_api", text, f"{api.what}: {api.why}; {translation}",
                              f"the code needs {api.fix}; grade this by hand or ask the student for a fixed notebook")  # fmt: skip


def _consequence(error: CellError, source: str, unbound: dict[str, int]) -> EnvironmentFailure | None:
    """A failure of a cell that uses what an environment-stopped cell was to set up (a name it binds:
    undefined, or left half made, like a model whose ``compile`` failed)."""
    undefined = _UNDEFINED.search(error.evalue) if error.ename == "NameError" else None
    names = [undefined.group(1)] if undefined else sorted(used_names(source) & set(unbound), key=unbound.get)
    name = next((name for name in names if name in unbound), None)
    if name is None:
        return None
    cause = unbound[name]
    return EnvironmentFailure(error.cell, "consequence", f"{error.ename}: {error.evalue}",
                              f"it uses {name}, which cell {cause} was to set up when the environment stopped it",
                              f"see cell {cause}", cause=cause)  # fmt: skip


def _tree(source: str) -> ast.Module | None:
    try:
        return ast.parse(python_source(source))
    except (SyntaxError, ValueError):
        return None


def used_names(source: str) -> set[str]:
    """The names a cell's code reads."""
    tree = _tree(source)
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} if tree else set()


def bound_names(source: str, after: str = "") -> set[str]:
    """The names a cell's code binds (imports, assignments, definitions); none when it does not parse.

    ``after``: the line that raised; the statements before it ran, so their names are bound."""
    tree = _tree(source)
    if tree is None:
        return set()
    statements = tree.body[_statement_raising(tree, source, after) :] if after.strip() else tree.body
    names = set()
    for node in (n for statement in statements for n in ast.walk(statement)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names if alias.name != "*")
    return names


def _statement_raising(tree: ast.Module, source: str, line: str) -> int:
    """The index of the top-level statement holding ``line`` (0 when none does)."""
    lines = source.splitlines()
    for index, statement in enumerate(tree.body):
        text = "\n".join(lines[statement.lineno - 1 : statement.end_lineno or statement.lineno])
        if line.strip() in text:
            return index
    return 0


def file_name(path: str) -> str:
    """The file name of a path a student wrote, POSIX or Windows (``C:\\Users\\me\\wine.csv`` -> wine.csv)."""
    return PureWindowsPath(path).name if "\\" in path else PurePosixPath(path).name


def failure_flags(failures: tuple[EnvironmentFailure, ...]) -> list[str]:
    """The grade's flags: each root failure for review (one flag for the cells one cause stopped: a
    missing file read in four cells is one problem, not four), except a hosted service's line
    (Colab's ``drive.mount``) that nothing after it needed: that one is only noted."""
    caused = {f.cause for f in failures if f.kind == "consequence"}
    entries: list[str | list[EnvironmentFailure]] = []
    same: dict[tuple[str, str, str, str], list[EnvironmentFailure]] = {}  # one cause, one flag
    for failure in failures:
        if failure.kind == "consequence":
            continue
        if failure.kind == "hosted" and failure.cell not in caused:
            entries.append(
                f"not run here: cell {failure.cell} ({failure.error[:120]}): {failure.what}; nothing after it depended on it"
            )
            continue
        key = (failure.kind, failure.error, failure.what, failure.fix)
        if key not in same:
            same[key] = []
            entries.append(same[key])
        same[key].append(failure)
    return [entry if isinstance(entry, str) else entry[0].flag(tuple(f.cell for f in entry)) for entry in entries]


def destroyed_cells(failures: tuple[EnvironmentFailure, ...]) -> dict[int, EnvironmentFailure]:
    """Each cell the environment stopped -> the root failure (a consequence points to its cause)."""
    roots = {f.cell: f for f in failures if f.kind != "consequence"}
    return {f.cell: roots.get(f.cause, f) if f.kind == "consequence" else f for f in failures}
