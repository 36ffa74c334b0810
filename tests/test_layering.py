"""Lower layers never import higher ones: the records and schemas at the bottom, then the stages
in the pipeline's order, then what strings them together, then the command line.

Every ``import grader...`` counts, also one inside a function: a lazy import is still a
dependency. Modules of one layer may import each other.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

LAYERS = (
    ("records and schemas", ("grader.models", "grader.rubric", "grader.schema", "grader.check_specs", "grader.settings",
                             "grader.facts", "grader.overrides", "grader.identical", "grader.text", "grader.words",
                             "grader.atomic", "grader.machine", "grader.files", "grader.redact",
                             "grader.code_version", "grader.out_folder")),
    ("ingest", ("grader.ingest",)),
    ("execute", ("grader.execute",)),
    ("extract", ("grader.extract", "grader.environment")),  # environment: whose fault a failing cell is
    ("the assignment folder", ("grader.assignment",)),  # its dataset files (execute) and template (extract)
    ("score", ("grader.score",)),
    ("store", ("grader.gradebook", "grader.stored")),
    ("report, export and authoring", ("grader.report", "grader.export", "grader.attention", "grader.authoring")),
    ("pipeline", ("grader.pipeline", "grader.batch", "grader.selfcheck", "grader.doctor")),
    ("command line", ("grader.cli", "grader.console", "grader")),
)  # fmt: skip


def layer_of(module: str) -> int:
    """The layer of a module: that of the longest prefix named in LAYERS."""
    best, found = -1, None
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), rank
    assert found is not None, f"{module} is in no layer: add it to LAYERS"
    return found


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def upward_imports(root: Path) -> list[str]:
    """Each import of a higher layer, as ``file:line: module (layer) imports other (layer)``."""
    found = []
    for path in sorted((root / "grader").rglob("*.py")):
        module = module_name(path, root)
        mine = layer_of(module)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [node.module]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            for target in targets:
                if target.split(".")[0] == "grader" and layer_of(target) > mine:
                    found.append(
                        f"{path.relative_to(root)}:{node.lineno}: {module} ({LAYERS[mine][0]}) imports {target}"
                        f" ({LAYERS[layer_of(target)][0]})"
                    )
    return found


def test_no_module_imports_a_higher_layer():
    assert upward_imports(ROOT) == []


def test_an_upward_import_is_found_even_inside_a_function(tmp_path):
    package = tmp_path / "grader" / "report"
    package.mkdir(parents=True)
    (package / "page.py").write_text("def page():\n    from grader.pipeline import score\n")
    (tmp_path / "grader" / "models.py").write_text("from grader.execute.runner import run_notebook\n")
    assert upward_imports(tmp_path) == [
        "grader/models.py:1: grader.models (records and schemas) imports grader.execute.runner (execute)",
        "grader/report/page.py:2: grader.report.page (report, export and authoring) imports grader.pipeline (pipeline)",
    ]
