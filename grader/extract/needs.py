"""What a notebook expects of the machine it runs on, read from its code without running it.

The imports, the data files and URLs it reads, the dataset loaders it calls and the removed APIs
it uses: what ``grader doctor`` reports for a class before anything runs. Shell lines
(``!wget URL``, ``!pip install X``) count too: they are skipped when the notebook runs, so what
they fetch or install is missing then.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from grader.environment.failures import file_name
from grader.environment.removed_apis import RemovedApi, removed_apis_in_code
from grader.extract.cells import is_ipython_line, source_of

# Calls whose first argument (or these keywords) is a file the notebook reads.
_READERS = {
    "read_csv", "read_excel", "read_json", "read_table", "read_parquet", "read_feather", "read_pickle", "read_fwf",
    "load", "loadtxt", "genfromtxt", "fromfile", "open", "imread", "load_img", "load_model", "load_weights",
    "image_dataset_from_directory", "text_dataset_from_directory", "flow_from_directory", "flow_from_dataframe",
    "ImageFolder", "DatasetFolder", "File", "read_file", "read_sql",
}  # fmt: skip
_PATH_KEYWORDS = ("filepath_or_buffer", "path", "fname", "file", "filepath", "directory", "root", "io", "filename")
_WRITERS = {
    "to_csv",
    "to_excel",
    "to_json",
    "to_parquet",
    "to_pickle",
    "save",
    "savefig",
    "save_weights",
    "savez",
    "savetxt",
    "dump",
}
_URL = re.compile(r"https?://[^\s'\"<>)]+")
_SHELL_PIP = re.compile(r"^\s*(?:[!%]\s*)?pip3?\s+install\s+(.+)$")
_REQUIREMENT_NAME = re.compile(r"^['\"]?([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)(?=$|[\[<>=!~;'\"\s])")
_PIP_OPTIONS_WITH_VALUE = {"-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-i", "--index-url",
                           "--extra-index-url", "-f", "--find-links", "-t", "--target"}  # fmt: skip
_DATA_SUFFIX = re.compile(
    r"\.(?:csv|tsv|txt|xlsx?|json|parquet|feather|npz|npy|pkl|pickle|h5|hdf5|keras|pt|pth|zip|gz|tar|jpe?g|png|data|mat)$",
    re.I,
)


@dataclass(frozen=True)
class Loader:
    """A dataset loader call: ``keras.datasets.cifar10.load_data()`` -> ("keras", "cifar10")."""

    library: str
    name: str

    def __str__(self) -> str:
        return {"keras": f"keras.datasets.{self.name}.load_data()", "torchvision": f"torchvision.datasets.{self.name}(...)",
                "sklearn": f"sklearn.datasets.{self.name if '(' in self.name else self.name + '(...)'}", "tfds": "tensorflow_datasets.load(...)"}[self.library]  # fmt: skip


@dataclass(frozen=True)
class Needs:
    imports: frozenset[str] = frozenset()  # module names as imported (``torch.nn``, ``google.colab``)
    files: frozenset[str] = frozenset()  # paths as written (``/content/wine.csv``)
    urls: frozenset[str] = frozenset()
    loaders: frozenset[Loader] = frozenset()
    removed: frozenset[RemovedApi] = frozenset()
    pip_installs: frozenset[str] = frozenset()  # the packages ``!pip install`` lines named (``tensorflow``)


def notebook_needs(notebook) -> Needs:
    imports, files, urls, loaders, removed, installs, written = set(), set(), set(), set(), set(), set(), set()
    aliases: dict[str, str] = {}  # a name bound by an import -> the dotted path it stands for
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        source = source_of(cell)
        code_lines = []
        for line in source.splitlines():
            shell = is_ipython_line(line)
            if shell:
                urls.update(_URL.findall(line))
                pip = _SHELL_PIP.match(line)
                if pip:
                    installs.update(requirement_names(pip.group(1)))
            code_lines.append("" if shell else line)
        code = "\n".join(code_lines)
        removed.update(removed_apis_in_code(code))
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imports.update(alias.name for alias in node.names)
                aliases.update({alias.asname: alias.name for alias in node.names if alias.asname})
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imports.add(node.module)
                imports.update(
                    f"{node.module}.{alias.name}"
                    for alias in node.names
                    if node.module == "google" and alias.name == "colab"
                )
                aliases.update({alias.asname or alias.name: f"{node.module}.{alias.name}" for alias in node.names})
            elif (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Attribute)
            ):  # mnist = tf.keras.datasets.mnist
                aliases[node.targets[0].id] = _dotted(node.value)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                _read_call(node, files, urls, loaders, written, aliases)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                urls.update(_URL.findall(node.value))
    files = {path for path in files if file_name(path) not in written}
    return Needs(
        frozenset(imports),
        frozenset(files),
        frozenset(urls),
        frozenset(loaders),
        frozenset(removed),
        frozenset(installs),
    )


def requirement_names(arguments: str) -> list[str]:
    """The package names a ``pip install`` line asks for: ``tensorflow==2.0 'numpy<2' -q`` -> tensorflow, numpy.
    Pins and extras are dropped (the grading kernel has its own releases); options, files and URLs name no package."""
    names, words = [], arguments.split("#")[0].split()
    for before, word in zip([""] + words, words):
        if word.startswith("-") or before in _PIP_OPTIONS_WITH_VALUE or "/" in word or "\\" in word:
            continue
        match = _REQUIREMENT_NAME.match(word)
        if match and not looks_like_data_file(match.group(1)) and not match.group(1).endswith(".whl"):
            names.append(match.group(1))
    return names


def _read_call(node: ast.Call, files: set, urls: set, loaders: set, written: set, aliases: dict[str, str]) -> None:
    name = _name(node.func)
    loader = _loader(node.func, aliases, _path_argument(node))
    if loader is not None:
        loaders.add(loader)
    path = _path_argument(node)
    if path is None:
        return
    if name in _WRITERS:
        written.add(file_name(path))
    elif name in _READERS and not _URL.match(path):
        if name != "open" or not _opens_for_writing(node):
            files.add(path)
        else:
            written.add(file_name(path))
    elif name in ("load_data", "get_file") and _URL.match(path):
        urls.add(path)


def _loader(func: ast.AST, aliases: dict[str, str], argument: str | None = None) -> Loader | None:
    """``keras.datasets.X.load_data``, ``torchvision.datasets.X``, ``sklearn.datasets.fetch_X``, ``tfds.load``
    (names resolved through the notebook's imports: ``from keras.datasets import cifar10``)."""
    dotted = _resolved(_dotted(func), aliases)
    parts = dotted.split(".")
    if len(parts) >= 3 and parts[-1] == "load_data" and parts[-3] == "datasets":
        return Loader("keras", parts[-2])
    if len(parts) >= 3 and parts[0] == "torchvision" and parts[-2] == "datasets" and parts[-1][:1].isupper():
        return Loader("torchvision", parts[-1])
    if parts[0] == "sklearn" and (parts[-1].startswith("fetch_") or parts[-1] == "load_boston"):
        return Loader("sklearn", parts[-1] + (f"({argument!r})" if argument else ""))
    if dotted == "tensorflow_datasets.load":
        return Loader("tfds", "?")
    return None


def _resolved(dotted: str, aliases: dict[str, str]) -> str:
    """``dotted`` with its first name replaced by what it stands for, through a few aliases
    (``mnist`` -> ``tf.keras.datasets.mnist`` -> ``tensorflow.keras.datasets.mnist``)."""
    for _ in range(3):
        head, _, rest = dotted.partition(".")
        if head not in aliases or aliases[head].split(".")[0] == head:
            break
        dotted = ".".join(filter(None, (aliases[head], rest)))
    return dotted


def _dotted(func: ast.AST) -> str:
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
    return ".".join(reversed(parts))


def _name(func: ast.AST) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _path_argument(node: ast.Call) -> str | None:
    candidates = list(node.args[:1]) + [k.value for k in node.keywords if k.arg in _PATH_KEYWORDS]
    for value in candidates:
        if isinstance(value, ast.Constant) and isinstance(value.value, str) and value.value.strip():
            return value.value.strip()
        if isinstance(value, ast.JoinedStr):
            continue
    return None


def _opens_for_writing(node: ast.Call) -> bool:
    mode = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "mode"), None)
    return isinstance(mode, ast.Constant) and isinstance(mode.value, str) and any(c in mode.value for c in "wax")


def looks_like_data_file(path: str) -> bool:
    return bool(_DATA_SUFFIX.search(path)) or path.rstrip("/").endswith(("data", "dataset", "images", "train", "test"))
