"""A notebook that opens by absolute path what it should never see: the rubric, the solution, a
classmate's notebook, the output folder and the grader's own checkout. With bubblewrap it sees
none of them, whatever their permissions (here every one may be read by any user): with the
grader run as root and the kernel as root (as a user of its own: tests/hostile/test_sandbox.py),
and with the grader run as an ordinary user, whose kernels run as that user. Without bubblewrap,
`grader grade` says at the start which of them a kernel could read.
"""

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import nbformat
import nbformat.v4 as nbf
import pytest

from grader.assignment import load_assignment
from grader.cli.grading import _warn_readable
from grader.execute.sandbox import SandboxLimits, kernel_user, plan, preexec, readable_by_kernels
from grader.execute.sandbox.view import SWITCH
from grader.ingest.files import read_intake

pytestmark = pytest.mark.slow  # a whole batch of kernels

ROOT = Path(__file__).resolve().parents[2]
SANDBOX = plan(False, "auto")
NEEDS_BUBBLEWRAP = pytest.mark.skipif(
    SANDBOX.bubblewrap is None, reason=f"bubblewrap is not used here: {SANDBOX.describe()}"
)
ORDINARY = "nobody"  # the ordinary user the grader is run as
CONTAINED = "Kernels see only their run folder and Python (bubblewrap)."


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


def prepare(folder: Path, copy_assignment, **changes) -> dict[str, Path]:
    """The assignment (with ``changes`` to its assignment.yaml), the reader and its classmate's
    notebook in ``folder``, every one readable by any user; the targets the reader tries."""
    paths = targets(folder)
    copy_assignment(
        folder / "assignment", datasets={}, execution={"cell_timeout": 300, "notebook_timeout": 600}, **changes
    )
    (folder / "submissions").mkdir()
    nbformat.write(reader(paths), folder / "submissions" / "reader.ipynb")
    nbformat.write(nbf.new_notebook(cells=[nbf.new_code_cell("print('mine')")]), paths["classmate"])
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return paths


def grade_command(folder: Path) -> list[str]:
    out = targets(folder)["output folder"]
    return ["grade", str(folder / "submissions" / "reader.ipynb"), "--assignment", str(folder / "assignment"),
            "--out", str(out)]  # fmt: skip


def what_it_read(folder: Path) -> dict[str, str]:
    """What the reader printed in the run: target -> READ or the error that stopped it."""
    (run,) = (targets(folder)["output folder"] / "runs").glob("*.ipynb")
    executed = nbformat.read(run, as_version=4)
    printed = "".join(o.get("text", "") for o in executed.cells[-1].outputs if o.get("output_type") == "stream")
    return dict(line.split("|", 1) for line in printed.splitlines())


@pytest.fixture(scope="module")
def batch(base, copy_assignment, grader_process):
    """The reader, graded alone (one kernel) with its classmate's notebook beside it, the kernel run
    as root: no permission hides anything from it, only its view. (With a user of its own: the
    hostile batch of test_sandbox.py, whose reader tries the same files.)"""
    user = "root"
    folder = base / user
    paths = prepare(folder, copy_assignment, sandbox={"user": user})
    done, _ = grader_process(*grade_command(folder))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return user, paths, what_it_read(folder), done.stderr


def as_ordinary_user():
    """(a ``preexec_fn`` that starts a process as ``ORDINARY``, why not): the grader's own layer for
    kernels makes its Python reachable (a closed folder such as ``/root`` replaced, in a mount
    namespace of the process's own, by one holding just that Python). Root only."""
    if os.geteuid() != 0:
        return None, "only root may start the grader as another user"
    try:
        pwd.getpwnam(ORDINARY)
    except KeyError:
        return None, f"there is no {ORDINARY!r} account"
    planned = plan(False, ORDINARY)
    if planned.user != ORDINARY:
        return None, f"{ORDINARY} cannot reach the grader's Python here: {planned.describe()}"
    start = replace(planned, network="open", userns=False, cgroup=None, bubblewrap=None)
    return preexec(SandboxLimits(), start, kernel_user(start), processes=4096, die_with_parent=False), ""


@pytest.fixture(scope="module")
def ordinary(base, copy_assignment):
    """The reader's folders, the output folder and a home made the ordinary user's; how to start a
    process as that user, in that home."""
    start, why = as_ordinary_user()
    if start is None:
        pytest.skip(why)
    folder = base / ORDINARY
    paths = prepare(folder, copy_assignment)
    home = folder / "home"
    entry = pwd.getpwnam(ORDINARY)
    for owned in (home, paths["output folder"]):
        owned.mkdir()
        os.chown(owned, entry.pw_uid, entry.pw_gid)

    def run(*command: str, **env: str) -> subprocess.CompletedProcess:
        environment = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(home), "LANG": "C.UTF-8", **env}
        environment["COLUMNS"] = "1000"  # the console's lines whole
        return subprocess.run(
            [sys.executable, *command], cwd=home, env=environment, preexec_fn=start,
            capture_output=True, text=True, timeout=1200,
        )  # fmt: skip

    return folder, paths, run


@pytest.fixture(scope="module")
def ordinary_batch(ordinary):
    """The reader graded alone (one kernel) by ``grader grade`` run as the ordinary user: its kernel
    runs as that user, who may read every one of the targets."""
    folder, paths, run = ordinary
    done = run("-m", "grader.cli", *grade_command(folder))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return paths, what_it_read(folder), done.stderr


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
    assert CONTAINED in console
    assert "could read" not in console


def test_a_grader_run_as_an_ordinary_user_keeps_the_files_from_its_kernel_or_says_it_cannot(ordinary_batch):
    """bubblewrap needs unprivileged user namespaces for a grader that is not root. Where it has
    them the kernel sees none of the files; where not, the kernel, run as the grader's own user,
    reads every one of them, and the batch said so at the start."""
    paths, seen, console = ordinary_batch
    console = " ".join(console.split())
    if CONTAINED in console:
        assert seen == dict.fromkeys(paths, "FileNotFoundError") | {"new user namespace": "refused"}, seen
        assert "could read" not in console
    else:
        assert all(seen[label].startswith("READ") for label in paths), seen
        assert "warning: a student's kernel could read" in console and str(paths["rubric"]) in console, console
        assert "the kernel runs as the grader's own user" in console, console


def test_without_bubblewrap_an_ordinary_users_batch_warns_that_its_kernel_reads_what_it_may(ordinary):
    """The fallback of a grader that is not root, with bubblewrap turned off: its kernels run as
    its own user, so no permission hides the rubric, the solution or a classmate's notebook."""
    folder, paths, run = ordinary
    code = (
        "from pathlib import Path\nfrom grader.assignment import load_assignment\n"
        "from grader.cli.grading import _warn_readable\nfrom grader.ingest.files import read_intake\n"
        f"task = load_assignment(Path({str(folder / 'assignment')!r}))\n"
        f"intake = read_intake([Path({str(folder / 'submissions')!r})], None)\n"
        f"_warn_readable(task, intake.submissions, Path({str(paths['output folder'])!r}), quiet=True)"
    )
    done = run("-c", code, **{SWITCH: "0"})
    said = " ".join(done.stderr.split())
    assert done.returncode == 0, done.stderr[-3000:]
    assert said.startswith("warning: a student's kernel could read"), said
    readable = [paths[label] for label in ("rubric", "solution", "classmate", "gradebook") if paths[label].exists()]
    readable.append(folder / "submissions" / "reader.ipynb")  # its own notebook too: the first three named
    assert all(str(path) in said for path in sorted(readable)[:3]) and f"and {len(readable) - 3} more" in said, said
    assert f"bubblewrap is turned off ({SWITCH}=0)" in said and "runs as the grader's own user" in said, said


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
