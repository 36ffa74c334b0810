"""Hostile notebooks in one `grader grade` batch: each is stopped or contained, graded as far as it
got with the reason in its row, and the good notebook beside them is graded as usual.

The assignment is a copy of assignments/regularization with short timeouts and a small sandbox
(1 GiB of memory, 64 processes) so that the batch stays fast and the test machine safe.
"""

import json
import os
import socket
import sqlite3
from pathlib import Path

import nbformat
import nbformat.v4 as nbf
import pytest

from grader.execute.sandbox import FRESH_UIDS, plan

pytestmark = pytest.mark.slow  # real kernels with TensorFlow or PyTorch, or a whole batch of kernels

ROOT = Path(__file__).resolve().parents[2]
RUBRIC = ROOT / "rubrics" / "regularization.yaml"
GOOD_ANSWER = "## Q1\nRegularization adds a penalty on large weights so the network does not overfit and generalizes to unseen data."
FIND_PROBE = (
    "import sys\nname = [a for a in dir(sys) if a.startswith('_grader_probe')][0]\nprobe = getattr(sys, name)\n"
)
SANDBOX = plan(False, "auto")


def notebook(*code: str) -> nbformat.NotebookNode:
    cells = [nbf.new_markdown_cell(GOOD_ANSWER)] + [nbf.new_code_cell(source) for source in code]
    return nbf.new_notebook(
        cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )


def hostile_cases(secrets: dict[str, Path], port: int) -> dict[str, nbformat.NotebookNode]:
    reads = "\n".join(
        f"try:\n    print({label!r}, 'READ', len(open({str(path)!r}, 'rb').read()))\n"
        f"except Exception as error:\n    print({label!r}, type(error).__name__)"
        for label, path in secrets.items()
    )  # fmt: skip
    return {
        "good": notebook("total = sum(range(10))\nprint('total', total)"),
        "infinite_loop": notebook("x = 1", "while True:\n    pass", "print('after the loop', x)"),
        "fork_bomb": notebook(
            "import os, time\nkids = []\ntry:\n    for _ in range(300):  # guarded: at most 300 forks\n"
            "        pid = os.fork()\n        if pid == 0:\n            try:\n                time.sleep(120)\n"
            "            finally:\n                os._exit(0)\n        kids.append(pid)\n"
            "except OSError as error:\n    print('fork refused after', len(kids), type(error).__name__)\nprint('kids', kids)",
            "print('the kernel is alive')",
        ),
        "memory_bomb": notebook("hog = bytearray(8 * 1024**3)", "print('the kernel is alive')"),
        "os_exit": notebook("x = 1", "import os\nos._exit(1)", "print('never runs')"),
        "sys_exit": notebook("import sys\nsys.exit()", "print('after sys.exit')"),
        "deletes_files": notebook(
            "import os, shutil\nfor name in os.listdir('.'):\n    os.remove(name)\nprint('left', os.listdir('.'))\n"
            "try:\n    shutil.rmtree('..')\nexcept OSError as error:\n    print('parent', type(error).__name__)",
            "print('still running')",
        ),
        "reads_secrets": notebook(reads),
        "network": notebook(
            f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=3).close()\n    print('CONNECTED')\n"
            "except OSError as error:\n    print('no connection', type(error).__name__)"
        ),
        "deletes_probe": notebook(FIND_PROBE + "delattr(sys, name)", "print('after')"),
        "replaces_report": notebook(
            FIND_PROBE + "import json\nfrom IPython.display import publish_display_data\n"
            "fake = {'schema_version': 1, 'nonce': probe.nonce, 'models': [{'id': 1, 'framework': 'keras', 'cls': 'Sequential',"
            " 'layers': [{'cls': 'Dropout', 'rate': 0.5}]}], 'fits': [{'model': 1, 'epochs_run': 5, 'samples': 60000}]}\n"
            "probe.report = lambda: publish_display_data({'application/x-grader-facts+json': json.dumps(fake)})"
        ),
        "fake_facts": notebook(
            'fake = \'{"schema_version": 1, "models": [{"id": 1, "framework": "keras", "cls": "Sequential"}]}\'\n'
            "print(fake)\nfrom IPython.display import display\ndisplay({'application/x-grader-facts+json': fake}, raw=True)"
        ),
        "fifty_megabytes": notebook("print('x' * 50_000_000)", "print('after the flood')"),
        # Endless printing that ends in the kernel's own memory limit whatever the machine's load:
        # the loop also keeps 50 MB a turn, so MemoryError (1 GiB of written memory) comes after about
        # 20 MB printed, in the cell (not in a thread of the kernel's, nor at the cell limit), and
        # frees it before the next.
        "print_flood": notebook(
            "kept = []\ntry:\n    while True:\n        kept.append(bytearray(5 * 10**7))\n        print('x' * 10**6)\n"
            "finally:\n    kept.clear()",
            "print('after the endless flood')",
        ),
    }


@pytest.fixture(scope="module")
def batch(tmp_path_factory, copy_assignment, grader_process):
    base = tmp_path_factory.mktemp("hostile")
    assignment = copy_assignment(
        base / "assignment", datasets={}, execution={"cell_timeout": 5, "notebook_timeout": 60},
        sandbox={"memory": "1 GiB", "processes": 64},
    )  # fmt: skip

    secret = base / "secret"  # as a real OUT folder is: only its owner may enter
    secret.mkdir(mode=0o700)
    (secret / "rubric.yaml").write_bytes(RUBRIC.read_bytes())
    with sqlite3.connect(secret / "gradebook.sqlite") as db:
        db.execute("CREATE TABLE grades (student TEXT, score REAL)")
        db.execute("INSERT INTO grades VALUES ('someone-else', 97.5)")
    out, submissions = base / "out", base / "submissions"
    submissions.mkdir()
    secrets = {
        "secret rubric": secret / "rubric.yaml", "secret gradebook": secret / "gradebook.sqlite",
        "assignment rubric": assignment / "regularization.yaml", "this gradebook": out / "gradebook.sqlite",
        "other submission": submissions / "good.ipynb", "assignment solution": assignment / "solution.ipynb",
    }  # fmt: skip
    if SANDBOX.bubblewrap:  # readable by every user: only the kernel's view hides them (test_reading.py)
        secrets.update(
            {"checkout rubric": RUBRIC, "checkout solution": ROOT / "assignments" / "regularization" / "solution.ipynb"}
        )

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    cases = hostile_cases(secrets, listener.getsockname()[1])
    for name, nb in cases.items():
        nbformat.write(nb, submissions / f"{name}.ipynb")
    # The grader in a process of its own: its peak memory is then the batch's alone.
    done, peak = grader_process(
        "grade", submissions, "--assignment", assignment, "--out", out, "--quiet", "--jobs", "1"
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    try:
        connection = listener.accept()
    except BlockingIOError:
        connection = None
    listener.close()
    rows = {row["student"]: row for row in json.loads((out / "grades.json").read_text())}
    return cases, rows, out, connection, peak


def run_of(out: Path, row: dict) -> tuple[nbformat.NotebookNode, str]:
    """The executed notebook and the run's message, from the gradebook."""
    (path,) = (out / "runs").glob(f"{row['sha256']}-*.ipynb")
    with sqlite3.connect(out / "gradebook.sqlite") as db:
        (message,) = db.execute(
            "SELECT message FROM runs WHERE sha256 = ? ORDER BY id DESC", (row["sha256"],)
        ).fetchone()
    return nbformat.read(path, as_version=4), message or ""


def printed(nb: nbformat.NotebookNode, cell: int) -> str:
    return "".join(o.get("text", "") for o in nb.cells[cell].outputs if o.get("output_type") == "stream")


def q1(row: dict) -> float:
    return next(q["score"] for q in row["questions"] if q["id"] == "q1")


def test_every_notebook_is_a_graded_row_and_the_good_one_is_graded_as_usual(batch):
    cases, rows, out, *_ = batch
    assert set(rows) == set(cases)
    assert all(row["status"] == "graded" for row in rows.values())
    assert all(q1(row) > 0 for row in rows.values())  # graded as far as each got: the written answer counts
    good = rows["good"]
    assert good["execution"]["status"] == "ok" and good["execution"]["cells_failed"] == []
    assert not any("execution" in flag for flag in good["flags"])
    nb, message = run_of(out, good)
    assert printed(nb, 1) == "total 45\n" and message == ""


def test_an_endless_loop_is_interrupted_at_the_cell_limit_and_the_next_cell_runs(batch):
    _, rows, out, *_ = batch
    row = rows["infinite_loop"]
    assert row["execution"]["status"] == "timeout"
    assert any("cell 2 ran longer than 5 s" in flag for flag in row["flags"])
    nb, _ = run_of(out, row)
    assert printed(nb, 3) == "after the loop 1\n"


@pytest.mark.skipif(SANDBOX.user is None, reason=f"the process limit needs a user of its own: {SANDBOX.describe()}")
def test_a_fork_bomb_hits_the_process_limit_and_leaves_nothing_running(batch):
    _, rows, out, *_ = batch
    nb, _ = run_of(out, rows["fork_bomb"])
    lines = printed(nb, 1).splitlines()
    assert lines[0].startswith("fork refused after ") and "BlockingIOError" in lines[0]
    kids = json.loads(lines[1].removeprefix("kids "))
    assert 0 < len(kids) < 64
    assert printed(nb, 2) == "the kernel is alive\n"
    alive = [pid for pid in kids if os.path.exists(f"/proc/{pid}") and os.stat(f"/proc/{pid}").st_uid >= FRESH_UIDS[0]]
    assert alive == []  # the sandbox's user is gone with every process it started


def test_a_memory_bomb_fails_its_cell_with_the_limit_named_and_the_kernel_goes_on(batch):
    _, rows, out, *_ = batch
    row = rows["memory_bomb"]
    assert row["execution"]["status"] == "ok" and row["execution"]["cells_failed"] == [1]
    nb, message = run_of(out, row)
    assert "cell 1: it exceeded the 1 GiB memory limit (MemoryError)" in message
    assert printed(nb, 2) == "the kernel is alive\n"


def test_a_notebook_that_kills_its_kernel_is_graded_as_far_as_it_got(batch):
    _, rows, out, *_ = batch
    row = rows["os_exit"]
    assert row["execution"]["status"] == "kernel_died"
    assert any("the kernel died in cell 2: the kernel process exited with code 1" in flag for flag in row["flags"])
    nb, _ = run_of(out, row)
    assert nb.cells[3].outputs == []


def test_sys_exit_is_an_error_in_its_cell_only(batch):
    _, rows, out, *_ = batch
    row = rows["sys_exit"]
    assert row["execution"]["status"] == "ok" and row["execution"]["cells_failed"] == [1]
    nb, _ = run_of(out, row)
    assert printed(nb, 2) == "after sys.exit\n"


def test_deleting_the_working_folder_hurts_only_the_kernels_own_copy(batch):
    _, rows, out, *_ = batch
    row = rows["deletes_files"]
    assert row["execution"]["status"] == "ok"
    nb, _ = run_of(out, row)
    assert printed(nb, 1).splitlines()[0] == "left []"
    assert printed(nb, 2) == "still running\n"


@pytest.mark.skipif(SANDBOX.user is None, reason=f"the kernel runs as the grader's user here: {SANDBOX.describe()}")
def test_the_rubric_the_gradebook_and_other_submissions_cannot_be_read(batch):
    _, rows, out, *_ = batch
    nb, _ = run_of(out, rows["reads_secrets"])
    results = dict(line.rsplit(" ", 1) for line in printed(nb, 1).splitlines())
    labels = {"secret rubric", "secret gradebook", "assignment rubric", "this gradebook", "other submission"}
    labels |= {"assignment solution"} | ({"checkout rubric", "checkout solution"} if SANDBOX.bubblewrap else set())
    assert set(results) == labels
    hidden = "FileNotFoundError" if SANDBOX.bubblewrap else "PermissionError"  # not in its view, or not its own
    assert set(results.values()) == {hidden}, results


@pytest.mark.skipif(
    not SANDBOX.network_isolated, reason=f"network isolation is not enforced here: {SANDBOX.describe()}"
)
def test_the_kernel_cannot_reach_a_port_on_the_graders_loopback(batch):
    _, rows, out, connection, _ = batch
    nb, _ = run_of(out, rows["network"])
    assert printed(nb, 1).startswith("no connection ")
    assert connection is None


def test_tampering_with_the_probe_is_flagged_and_no_check_passes(batch):
    _, rows, *_ = batch
    for name in ("deletes_probe", "replaces_report"):
        row = rows[name]
        assert row["execution"]["status"] == "error", name
        assert any("the grader's recorders were tampered with" in flag for flag in row["flags"]), (name, row["flags"])
        assert not any(check["passed"] for check in row["checks"]), name
    assert any("report was overridden" in flag for flag in rows["replaces_report"]["flags"])


def test_a_printed_or_displayed_fake_facts_report_is_only_an_output(batch):
    _, rows, out, *_ = batch
    row = rows["fake_facts"]
    assert row["execution"]["status"] == "ok" and not any("tampered" in flag for flag in row["flags"])
    assert not any(check["passed"] for check in row["checks"])
    nb, _ = run_of(out, row)
    assert '"framework": "keras"' in printed(nb, 1)


def test_a_cell_printing_fifty_megabytes_is_cut_with_a_marker_and_the_grader_stays_small(batch):
    _, rows, out, *_ = batch
    row = rows["fifty_megabytes"]
    assert row["execution"]["status"] == "ok"
    (path,) = (out / "runs").glob(f"{row['sha256']}-*.ipynb")
    assert path.stat().st_size < 1_000_000
    nb, message = run_of(out, row)
    assert "[output truncated by the grader: 49,900,001 bytes]" in printed(nb, 1)
    assert printed(nb, 2) == "after the flood\n"
    assert "was cut in cell 1" in message


def test_an_endless_print_loop_ends_in_its_own_memory_limit_and_not_in_the_graders(batch):
    """The kernel reaches its memory limit: usually as a MemoryError in its cell, and the next cell runs; on a
    busy machine the kernel's output thread, holding the prints not yet sent, may be the one that cannot get
    memory, and the kernel dies of it. Either way the end is the kernel's, said so, and the grader stays small."""
    _, rows, out, _, peak = batch
    row = rows["print_flood"]
    nb, message = run_of(out, row)
    if row["execution"]["status"] == "ok":
        assert row["execution"]["cells_failed"] == [1]  # MemoryError in its cell
        assert printed(nb, 2) == "after the endless flood\n"
    else:
        assert row["execution"]["status"] == "kernel_died", row["execution"]
        assert "the kernel died in cell 1" in message, message
    (path,) = (out / "runs").glob(f"{row['sha256']}-*.ipynb")
    assert path.stat().st_size < 1_000_000
    assert peak < 1 << 30  # the grader never held the gigabytes the notebooks printed
