"""A notebook that opens by absolute path what it should never see: the rubric, the solution, a
classmate's notebook, the output folder and the grader's own checkout. With bubblewrap it sees
none of them, whatever their permissions (here every one may be read by any user), even with the
kernel run as root (as a user of its own: tests/hostile/test_sandbox.py). Without bubblewrap,
`grader grade` says at the start which of them a kernel could read.
"""

import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import nbformat
import nbformat.v4 as nbf
import pytest

from grader.assignment import load_assignment
from grader.cli.grading import _warn_readable
from grader.execute.sandbox import plan, readable_by_kernels
from grader.execute.sandbox.view import SWITCH
from grader.ingest.files import read_intake

pytestmark = pytest.mark.slow  # a whole batch of kernels

ROOT = Path(__file__).resolve().parents[2]
SANDBOX = plan(False, "auto")
NEEDS_BUBBLEWRAP = pytest.mark.skipif(
    SANDBOX.bubblewrap is None, reason=f"bubblewrap is not used here: {SANDBOX.describe()}"
)


def targets(base: Path) -> dict[str, Path]:
    assignment, submissions, out = base / "assignment", base / "submissions", base / "out"
    return {
        "rubric": assignment / "regularization.yaml",
        "solution": assignment / "solution.ipynb",
        "classmate": submissions / "classmate.ipynb",
        "gradebook": out / "gradebook.sqlite",
        "output folder": out,
        "checkout rubric": ROOT / "rubrics" / "regularization.yaml",
        "checkout solution": ROOT / "assignments" / "regularization" / "solution.ipynb",
    }


def reader(paths: dict[str, Path]) -> nbformat.NotebookNode:
    code = "import os\n" + "\n".join(
        f"try:\n    p = {str(path)!r}\n"
        f"    print({label!r}, 'READ', os.listdir(p) if os.path.isdir(p) else len(open(p, 'rb').read()), sep='|')\n"
        f"except Exception as error:\n    print({label!r}, type(error).__name__, sep='|')"
        for label, path in paths.items()
    ) + (
        "\nimport ctypes\nmade = ctypes.CDLL(None, use_errno=True).unshare(0x10000000) == 0  # CLONE_NEWUSER\n"
        "print('new user namespace', 'made' if made else 'refused', sep='|')"
    )  # fmt: skip
    return nbf.new_notebook(cells=[nbf.new_markdown_cell("## Q1\nNothing."), nbf.new_code_cell(code)])


@pytest.fixture(scope="module")
def base():
    """Folders every user may enter, outside the temporary folder (as a course folder is)."""
    folder = Path(tempfile.mkdtemp(prefix=".test-reading-", dir=ROOT))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def batch(base, copy_assignment, grader_process):
    """The reader, graded alone (one kernel) with its classmate's notebook beside it, the kernel run
    as root: no permission hides anything from it, only its view. (With a user of its own: the
    hostile batch of test_sandbox.py, whose reader tries the same files.)"""
    user = "root"
    folder = base / user
    paths = targets(folder)
    copy_assignment(
        folder / "assignment", datasets={}, execution={"cell_timeout": 300, "notebook_timeout": 600},
        sandbox={"user": user},
    )  # fmt: skip
    (folder / "submissions").mkdir()
    reader_file = folder / "submissions" / "reader.ipynb"
    nbformat.write(reader(paths), reader_file)
    nbformat.write(nbf.new_notebook(cells=[nbf.new_code_cell("print('mine')")]), paths["classmate"])
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    out = paths["output folder"]
    done, _ = grader_process("grade", reader_file, "--assignment", folder / "assignment", "--out", out)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    (run,) = (out / "runs").glob("*.ipynb")
    executed = nbformat.read(run, as_version=4)
    printed = "".join(o.get("text", "") for o in executed.cells[-1].outputs if o.get("output_type") == "stream")
    seen = dict(line.split("|", 1) for line in printed.splitlines())
    return user, paths, seen, done.stderr


@NEEDS_BUBBLEWRAP
def test_the_kernel_sees_none_of_the_files_that_matter(batch):
    user, paths, seen, _ = batch
    assert seen == dict.fromkeys(paths, "FileNotFoundError") | {"new user namespace": "refused"}, (user, seen)


@NEEDS_BUBBLEWRAP
def test_without_bubblewrap_the_same_files_would_be_readable(batch):
    """Any user may read them (the grader's own gradebook aside): the view hid them, not their
    permissions, from root and from a user of its own alike."""
    _, paths, _, _ = batch
    files = [path for label, path in paths.items() if label != "gradebook" and path.is_file()]
    for user in ("auto", "root"):
        assert readable_by_kernels(files, replace(plan(False, user), bubblewrap=None)) == files
        assert readable_by_kernels(files, plan(False, user)) == []


@NEEDS_BUBBLEWRAP
def test_the_batch_says_at_the_start_that_kernels_see_only_their_folder(batch):
    *_, console = batch
    assert "Kernels see only their run folder and Python (bubblewrap)." in console
    assert "could read" not in console


def test_without_bubblewrap_the_start_of_a_batch_names_what_a_kernel_could_read(
    base, copy_assignment, monkeypatch, capsys
):
    folder = base / "fallback"
    paths = targets(folder)
    copy_assignment(folder / "assignment")
    (folder / "submissions").mkdir()
    nbformat.write(nbf.new_notebook(cells=[nbf.new_code_cell("print('mine')")]), paths["classmate"])
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    monkeypatch.setenv(SWITCH, "0")
    plan.cache_clear()
    try:
        task = load_assignment(folder / "assignment")
        intake = read_intake([folder / "submissions"], None)
        _warn_readable(task, intake.submissions, paths["output folder"], quiet=True)
        fallback = plan(task.limits.sandbox.network, task.limits.sandbox.user)
    finally:
        plan.cache_clear()
    said = capsys.readouterr().err
    assert fallback.bubblewrap is None and f"{SWITCH}=0" in fallback.describe()
    assert said.startswith("warning: a student's kernel could read"), said
    assert all(str(paths[label]) in said for label in ("rubric", "solution", "classmate")), said
    assert f"bubblewrap is turned off ({SWITCH}=0)" in said
