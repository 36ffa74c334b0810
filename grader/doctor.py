"""``grader doctor``: what a class's notebooks will miss in the grading environment, before any run.

Each notebook is read statically (``extract/needs.py``): no kernel, seconds for a class. The
findings are grouped over the class, each with the notebooks it affects and what the instructor
does about it (a package to install, a ``files:`` line for assignment.yaml, ...).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass
from functools import lru_cache

from grader.assignment import Assignment
from grader.environment.failures import file_name
from grader.environment.packages import TORCH_MATCHED, hosted_only, install_fix, pip_name, provided_modules
from grader.extract.needs import Needs, notebook_needs
from grader.models import Submission

# What the probe serves offline without the network (execute/probe/datasets.py): (library, loader) -> dataset.
SERVED_LOADERS = {
    **{("keras", name): name for name in ("mnist", "fashion_mnist", "cifar10", "cifar100")},
    **{("torchvision", cls): name for cls, name in (("MNIST", "mnist"), ("FashionMNIST", "fashion_mnist"),
                                                     ("CIFAR10", "cifar10"), ("CIFAR100", "cifar100"))},
    ("sklearn", "fetch_openml('mnist_784')"): "mnist",
}  # fmt: skip
KINDS = ("import", "file", "url", "loader", "removed_api")
KIND_TITLES = {
    "import": "imports that will fail",
    "file": "data files the code reads",
    "url": "URLs the code downloads",
    "loader": "dataset loaders (the grader has no network)",
    "removed_api": "removed APIs",
}


@dataclass(frozen=True)
class Finding:
    kind: str  # one of KINDS
    item: str
    fix: str
    students: tuple[str, ...]

    def record(self) -> dict:
        return {
            "kind": self.kind,
            "item": self.item,
            "count": len(self.students),
            "notebooks": list(self.students),
            "fix": self.fix,
        }


@lru_cache(maxsize=None)
def installed(module: str) -> bool:
    """Whether the kernel (this interpreter's environment) can import ``module``'s top-level package."""
    top = module.split(".")[0]
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


@lru_cache(maxsize=None)
def package_installed(package: str) -> bool:
    """Whether the kernel has the package a ``pip install`` line names, in any release: the run skips the
    line and uses what is installed (``tensorflow==2.0`` is met by the installed tensorflow 2.x)."""
    try:
        importlib.metadata.distribution(package)
        return True
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return any(installed(module) for module in provided_modules(package))


def diagnose(submissions: list[Submission], assignment: Assignment) -> list[Finding]:
    """The class's findings, most notebooks first."""
    found: dict[tuple[str, str], tuple[str, list[str]]] = {}
    for submission in submissions:
        if submission.notebook is None:
            continue
        for kind, item, fix in _problems(notebook_needs(submission.notebook), assignment):
            found.setdefault((kind, item), (fix, []))[1].append(submission.student)
    findings = [
        Finding(kind, item, fix, tuple(dict.fromkeys(students))) for (kind, item), (fix, students) in found.items()
    ]
    return sorted(findings, key=lambda f: (KINDS.index(f.kind), -len(f.students), f.item))


def _problems(needs: Needs, assignment: Assignment):
    for module in sorted(needs.imports):
        if hosted_only(module) or not installed(module):
            yield "import", module.split(".")[0] if not hosted_only(module) else module, install_fix(module)
    for package in sorted(needs.pip_installs):
        if not package_installed(package):
            yield "import", package, install_fix(package)
    provided = {path.name for path in assignment.files}
    for path in sorted(needs.files):
        name = file_name(path)
        if name not in provided:
            yield "file", path, f"put {name} in {assignment.folder} and add it to assignment.yaml: `files: [{name}]`"
    for url in sorted(needs.urls):
        yield (
            "url",
            url,
            (
                "the grader runs offline, so this download fails and the cells that use it are flagged for review; "
                f"if you have the file, put {file_name(url.split('?')[0]) or 'it'} in the assignment folder under `files:`"
            ),
        )
    for loader in sorted(needs.loaders, key=str):
        dataset = SERVED_LOADERS.get((loader.library, loader.name))
        if dataset is None:
            yield (
                "loader",
                str(loader),
                "no offline copy: it cannot download when grading; the cells that use it are flagged for review",
            )
        elif assignment.datasets.get(dataset) is not None:
            yield (
                "loader",
                str(loader),
                f"served from your file {assignment.datasets[dataset].name} (datasets: in assignment.yaml)",
            )
        else:
            yield "loader", str(loader), (f"served offline by the grader's stand-in (the real shapes, dtypes and classes); "
                                          f"for the real data: `datasets: {{{dataset}: FILE}}` in assignment.yaml")  # fmt: skip
    for api in sorted(needs.removed, key=lambda a: a.id):
        if api.translated:
            yield (
                "removed_api",
                api.what,
                f"{api.why}: the grader runs it as {api.fix} and notes it in the report (nothing to do)",
            )
        else:
            yield (
                "removed_api",
                api.what,
                f"{api.why}, no translation: the cells that use it fail and are flagged for review (today: {api.fix})",
            )


def pip_names(findings: list[Finding]) -> list[str]:
    """The packages to install for every failing import that installing fixes."""
    return sorted(
        {
            pip_name(f.item)
            for f in findings
            if f.kind == "import" and not hosted_only(f.item) and pip_name(f.item) not in TORCH_MATCHED
        }
    )
