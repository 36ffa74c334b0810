"""The sandbox's settings and the words it uses: limits from assignment.yaml, what a kernel's end
means, what the report header says, and the output limits applied to each message."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from nbformat.v4 import new_code_cell, new_notebook

from grader.assignment import AssignmentError, load_assignment
from grader.execute.outputs import OutputBudget
from grader.execute.probe.outputs import _shrink
from grader.execute.runner import run_notebook
from grader.execute.sandbox import (
    Enforcement,
    SandboxLimits,
    exit_reason,
    kernel_returncode,
    plan,
    planning,
    readable_by_kernels,
    size_text,
    view,
)  # fmt: skip
from grader.execute.sandbox.cgroups import cgroup_parent, end_group, new_group, set_limits, sweep_groups
from grader.execute.sandbox.containment import preexec
from grader.execute.sandbox.planning import _exposures, _reachable
from grader.execute.sandbox.view import in_view, python_paths, view_command
from grader.settings import ExecutionLimits

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENT = ROOT / "assignments" / "regularization"


def assignment_with(tmp_path: Path, **changes) -> Path:
    config = yaml.safe_load((ASSIGNMENT / "assignment.yaml").read_text())
    config.update(rubric=str(ROOT / "rubrics" / "regularization.yaml"), template=None, solution=None, **changes)
    (tmp_path / "assignment.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


def test_the_sandbox_section_takes_sizes_with_units_and_travels_with_the_execution_limits(tmp_path):
    folder = assignment_with(
        tmp_path, sandbox={"memory": "2 GiB", "file_size": "100 MiB", "processes": 64, "network": False}
    )
    task = load_assignment(folder)
    sandbox = task.limits.sandbox  # what a worker gets with the timeouts (and the cache key)
    assert sandbox.memory == 2 << 30 and sandbox.file_size == 100 << 20 and sandbox.processes == 64
    assert ExecutionLimits(**task.limits.model_dump(mode="json")).sandbox == sandbox
    assert load_assignment(ASSIGNMENT).limits.sandbox == SandboxLimits()


@pytest.mark.parametrize(
    ("sandbox", "expected"),
    [({"memory": "100 MiB"}, "sandbox.memory"), ({"processes": 2}, "sandbox.processes"), ({"swap": 1}, "sandbox.swap")],
)
def test_a_bad_sandbox_setting_names_the_file_and_the_field(tmp_path, sandbox, expected):
    with pytest.raises(AssignmentError, match=expected.replace(".", r"\.")) as raised:
        load_assignment(assignment_with(tmp_path, sandbox=sandbox))
    assert "assignment.yaml" in str(raised.value)


def test_sandbox_limits_belong_in_their_own_section(tmp_path):
    with pytest.raises(AssignmentError, match="own `sandbox:` section"):
        load_assignment(assignment_with(tmp_path, execution={"cell_timeout": 5, "sandbox": {"memory": "1 GiB"}}))


MEMORY_PROBE = """
import mmap
def attempt(what, make):
    try:
        make()
        print(what, 'allowed')
    except (MemoryError, OSError) as error:
        print(what, type(error).__name__)
attempt('written', lambda: bytearray(512 << 20))
attempt('reserved', lambda: mmap.mmap(-1, 3 << 30, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ))
attempt('shared', lambda: mmap.mmap(-1, 12 << 30))
"""


def test_the_memory_limit_counts_what_the_kernel_writes_not_the_address_space_its_libraries_map():
    """Written memory past the limit fails; a large read-only mapping (what CUDA PyTorch's library
    code is) does not count; shared memory, which RLIMIT_DATA misses, meets the address-space cap."""
    limits = SandboxLimits(memory="256 MiB")
    done = subprocess.run(
        [sys.executable, "-I", "-c", MEMORY_PROBE], capture_output=True, text=True, timeout=60,
        preexec_fn=preexec(limits, Enforcement(network="open"), None, die_with_parent=False),
    )  # fmt: skip
    assert done.stdout.split("\n")[:3] == ["written MemoryError", "reserved allowed", "shared OSError"], done.stderr


def test_a_kernels_end_is_told_in_the_words_of_its_limits():
    limits = SandboxLimits(memory="1 GiB", cpu_seconds=30)
    assert exit_reason(-signal.SIGXCPU, limits) == "it used up its 30 s of CPU time (SIGXCPU)"
    assert exit_reason(-signal.SIGABRT, limits, "terminate called after std::bad_alloc") == (
        "it exceeded the 1 GiB memory limit (SIGABRT)"
    )
    assert "crashed (SIGSEGV)" in exit_reason(-signal.SIGSEGV, limits)
    assert "killed (SIGKILL)" in exit_reason(-signal.SIGKILL, limits)
    assert exit_reason(1, limits).startswith("the kernel process exited with code 1")
    assert [size_text(v) for v in (4 << 30, 512 << 20, 100_000, 5_000_000)] == ["4 GiB", "512 MiB", "100 kB", "5 MB"]


def test_the_report_header_says_what_is_and_is_not_enforced():
    full = Enforcement(network="isolated", user="auto", mounts=True)
    assert full.describe(SandboxLimits()) == (
        "sandbox: 4 GiB memory, 3600 s CPU, 256 processes, files up to 1 GiB; no network;"
        " runs as an unprivileged user of its own; other processes and shared memory hidden"
    )
    weak = Enforcement(network="open", user=None, grader_user="alice", notes=("network (Operation not permitted)",))
    text = weak.describe(SandboxLimits())
    assert "network NOT isolated" in text and "runs as the grader's user (alice)" in text
    assert text.endswith("(not enforced: network (Operation not permitted))")
    assert plan(False, "auto").describe().startswith("sandbox: ")


@pytest.fixture
def open_folder():
    """A folder every user may enter (pytest's own temporary folders are closed to others)."""
    folder = Path(tempfile.mkdtemp(prefix="grader-test-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def test_a_folder_closed_to_the_kernels_user_is_opened_only_for_what_the_kernel_needs(open_folder):
    closed = open_folder / "home"
    python = closed / "pyenv" / "versions" / "3.11"
    python.mkdir(parents=True)
    (closed / "secrets").mkdir()
    closed.chmod(0o700)
    stranger = 2_000_000_123
    assert not _reachable(str(python), stranger, set())
    assert _reachable(str(python), os.stat(closed).st_uid, set())
    assert _exposures([str(python), str(python / "lib")], stranger, set()) == ((str(closed), (str(python),)),)


def test_the_grader_can_tell_which_files_a_kernel_could_read_anyway(open_folder):
    shared, private = open_folder / "rubric.yaml", open_folder / "out" / "gradebook.sqlite"
    shared.write_text("answer key")
    shared.chmod(0o644)
    private.parent.mkdir(mode=0o700)
    private.write_text("grades")
    private.chmod(0o644)
    own_user = Enforcement(network="isolated", user="auto")
    assert readable_by_kernels([shared, private, open_folder / "missing"], own_user) == [shared]
    assert readable_by_kernels([shared, private], Enforcement(user=None)) == [shared, private]


def test_the_kernels_view_holds_its_run_folders_python_and_the_system_and_not_the_checkout(open_folder):
    work, kernel = open_folder / "work", open_folder / "kernel"
    viewed = Enforcement(network="isolated", user="auto", bubblewrap="/usr/bin/bwrap")
    args = view_command("/usr/bin/bwrap", viewed, SandboxLimits(file_size="100 MiB"), [work, kernel], work)
    pairs = {(args[i], args[i + 1]) for i in range(len(args) - 1)}
    assert args[0] == "/usr/bin/bwrap" and args[-1] == "--"
    assert {("--bind", str(work)), ("--bind", str(kernel)), ("--ro-bind", "/usr"), ("--chdir", str(work))} <= pairs
    assert {"--unshare-ipc", "--unshare-pid", "--unshare-net", "--disable-userns", "--die-with-parent"} <= set(args)
    for scratch in ("/tmp", "/var/tmp", "/dev/shm"):
        at = args.index(scratch)
        assert args[at - 1] == "--tmpfs" and args[at - 5 : at - 3] == ["--size", str(100 << 20)]
    shown = python_paths()
    assert os.path.realpath(sys.prefix) in shown or any(sys.prefix.startswith(path + "/") for path in shown)
    assert not any(str(ROOT).startswith(path) for path in shown)  # the checkout (rubrics, assignments) is not
    assert in_view(Path(sys.executable)) and not in_view(ROOT / "rubrics" / "regularization.yaml")
    allowed = replace(viewed, network="allowed")
    assert "--unshare-net" not in view_command("bwrap", allowed, SandboxLimits(), [work], work)
    inbox = os.path.realpath(work)  # the verifier's: read-only, in the temporary folder, alive past its thread
    verifier = view_command("bwrap", viewed, SandboxLimits(), [], work, (inbox,), die_with_parent=False)
    bound = verifier.index(inbox)
    assert verifier[bound - 1] == "--ro-bind-try" and bound > verifier.index("/tmp")  # not hidden by the private /tmp
    assert "--bind" not in verifier and "--die-with-parent" not in verifier


def test_a_python_installed_under_the_temporary_folder_is_shown_after_the_private_tmp(tmp_path, monkeypatch):
    """A checkout tried out under /tmp has its venv there: the kernel's view shows that venv (bound
    after the private /tmp, which would hide it), never another run folder of the temporary folder."""
    venv, run_folder = tmp_path / "checkout" / ".venv", tmp_path / "grader-run-1"
    venv.mkdir(parents=True)
    run_folder.mkdir()
    assert str(tmp_path).startswith(os.path.realpath(tempfile.gettempdir()))
    monkeypatch.setattr(view, "installation", lambda: {os.path.realpath(venv)})
    monkeypatch.setattr(sys, "path", [str(run_folder), *sys.path])
    paths = view.python_paths.__wrapped__()
    assert os.path.realpath(venv) in paths and os.path.realpath(run_folder) not in paths
    monkeypatch.setattr(view, "python_paths", lambda: paths)
    viewed = Enforcement(network="isolated", user="auto", bubblewrap="/usr/bin/bwrap")
    args = view_command("/usr/bin/bwrap", viewed, SandboxLimits(), [tmp_path / "work"], tmp_path / "work")
    bound = args.index(os.path.realpath(venv))
    assert args[bound - 1] == "--ro-bind-try" and bound > args.index("/tmp")


def test_a_kernel_killed_inside_bubblewrap_is_named_by_its_signal():
    viewed, plain = Enforcement(bubblewrap="/usr/bin/bwrap"), Enforcement()
    assert kernel_returncode(128 + signal.SIGXCPU, viewed) == -signal.SIGXCPU  # bwrap exits as a shell would
    assert kernel_returncode(1, viewed) == 1 and kernel_returncode(None, viewed) is None
    assert kernel_returncode(128 + signal.SIGXCPU, plain) == 128 + signal.SIGXCPU
    assert viewed.describe().endswith("sees only its run folder and Python (bubblewrap)")
    off = Enforcement(notes=("network (EPERM)", "file system view: bubblewrap is not installed"))
    assert off.note("file system view") == "bubblewrap is not installed" and off.note("user") is None


@pytest.mark.skipif(os.geteuid() != 0, reason="only a grader run as root makes cgroups")
def test_a_per_kernel_cgroup_is_made_only_where_cgroup_v2_has_the_controllers(tmp_path):
    v1 = tmp_path / "v1"
    (v1 / "memory").mkdir(parents=True)
    assert cgroup_parent(v1) == (None, f"cgroup v2 is not mounted at {v1} (this machine has cgroup v1 only)")
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "cgroup.controllers").write_text("cpu io\n")
    assert cgroup_parent(bare) == (None, "cgroup v2 here has no memory or pids controller")
    v2 = tmp_path / "v2"  # a stand-in: plain files where the kernel's cgroup files would be
    v2.mkdir()
    (v2 / "cgroup.controllers").write_text("cpu memory pids\n")
    parent, _ = cgroup_parent(v2)
    assert parent == v2 / "grader-kernels" and (parent / "cgroup.subtree_control").read_text() == "+memory +pids"
    group = Path(new_group(str(parent)))
    set_limits(str(group), SandboxLimits(memory="2 GiB"), 64)
    assert (group / "memory.max").read_text() == str(2 << 30) and (group / "pids.max").read_text() == "64"
    (group / "cgroup.kill").write_text("")
    end_group(str(group))
    assert (group / "cgroup.kill").read_text() == "1"  # every process left in it killed
    stale = parent / "kernel-999999999-dead"
    stale.mkdir()
    assert sweep_groups(v2) == [str(stale)] and not stale.exists()


def test_a_cgroup_the_kernel_does_not_join_is_left_out_of_the_plan_with_the_reason(tmp_path, monkeypatch):
    fake = tmp_path / "grader-kernels"  # plain folders: no process can join them
    fake.mkdir()
    monkeypatch.setattr(planning, "cgroup_parent", lambda: (fake, ""))
    planned = planning._with_cgroup(replace(plan(False, "auto"), cgroup=None, notes=()))
    assert planned.cgroup is None and planned.user == "auto"
    assert "memory and processes per kernel: cgroup v2 fails here" in planned.describe()


def test_each_message_is_cut_to_what_is_left_of_its_outputs_allowance():
    budget = OutputBudget(output_size=1000, notebook_size=2500)
    stream = {"msg_type": "stream", "content": {"name": "stdout", "text": "a" * 800}}
    assert budget.trim(stream, 3) and len(stream["content"]["text"]) == 800
    more = {"msg_type": "stream", "content": {"name": "stdout", "text": "b" * 800}}
    assert budget.trim(more, 3) and more["content"]["text"] == "b" * 200  # the stream's 1000 bytes
    dropped = {"msg_type": "stream", "content": {"name": "stdout", "text": "c" * 50}}
    assert not budget.trim(dropped, 3)  # nothing left of it: nothing stored
    image = {
        "msg_type": "display_data",
        "content": {"data": {"image/png": "i" * 20_000, "text/plain": "<Figure>"}, "metadata": {}},
    }
    assert budget.trim(image, 4) and image["content"]["data"] == {"text/plain": "<Figure>"}  # over the notebook's rest
    widget = {"msg_type": "comm_open", "content": {"data": {"state": "w" * 10}}}
    assert not budget.trim(widget, 4)
    error = {"msg_type": "error", "content": {"ename": "ValueError", "evalue": "v" * 5000, "traceback": ["frame"] * 3}}
    assert budget.trim(error, 5) and len(error["content"]["evalue"]) <= 1000 and error["content"]["traceback"]
    marker = budget.marker(3)
    assert marker["name"] == "stderr" and "[output truncated by the grader: 650 bytes]" in marker["text"]
    assert budget.marker(3) is None
    assert "20,000 bytes" in budget.marker(4)["text"]


def test_the_probe_replaces_oversized_display_data_with_a_marker():
    bundle = {
        "text/html": "<p>" + "x" * 5000 + "</p>",
        "text/plain": "<HTML>",
        "application/x-grader-facts+json": "f" * 5000,
    }
    shrunk = _shrink(bundle, 1000)
    assert "text/html" not in shrunk and "application/x-grader-facts+json" in shrunk
    assert shrunk["text/plain"] == "<HTML>\n[output truncated by the grader: 5,007 bytes]"
    assert _shrink({"text/plain": "small"}, 1000) == {"text/plain": "small"}


def test_a_kernel_past_its_cpu_time_is_stopped_and_the_report_says_so():
    limits = ExecutionLimits(cell_timeout=60, notebook_timeout=120)
    execution = run_notebook(
        new_notebook(cells=[new_code_cell("x = 1"), new_code_cell("while True:\n    x += 1"), new_code_cell("print(x)")]),
        datasets={}, limits=limits, sandbox_limits=SandboxLimits(cpu_seconds=4),
    )  # fmt: skip
    assert execution.status == "kernel_died"
    assert "the kernel died in cell 1: it used up its 4 s of CPU time (SIGXCPU)" in execution.message
    assert execution.seconds < 30
    assert execution.sandbox.startswith("sandbox: 4 GiB memory, 4 s CPU")


def test_a_progress_bars_redraws_do_not_crowd_out_what_the_cell_prints_after_training():
    """Keras redraws its bar in place (backspaces, a carriage return, no new line) a hundred times an
    epoch: ten epochs of MNIST overran the stream's allowance, and the test accuracy printed after
    the fit in the same cell was cut (Deepak0000000/assignment in a full run: "its result is not shown")."""
    budget = OutputBudget(output_size=4_000, notebook_size=1_000_000)
    bar = "\b" * 60 + "\r 120/1875 ━━━━━━━━━━ 2s 2ms/step - accuracy: 0.9701 - loss: 0.1111"
    kept = []
    for epoch in range(5):
        for _ in range(40):
            message = {"msg_type": "stream", "content": {"name": "stdout", "text": bar}}
            if budget.trim(message, 2):
                kept.append(message["content"]["text"])
        end = {"msg_type": "stream", "content": {"name": "stdout", "text": bar + f" - epoch {epoch + 1} done\n"}}
        assert budget.trim(end, 2)  # each epoch's last line is kept
    printed = {"msg_type": "stream", "content": {"name": "stdout", "text": "Test accuracy: 0.9702000021934509\n"}}
    assert budget.trim(printed, 2) and printed["content"]["text"] == "Test accuracy: 0.9702000021934509\n"
    assert sum(map(len, kept)) <= 4_000 and "truncated by the grader" in budget.marker(2)["text"]
    runaway = {"msg_type": "stream", "content": {"name": "stdout", "text": "x" * 20_000}}
    assert budget.trim(runaway, 2) and len(runaway["content"]["text"]) < 4_000  # still bounded
