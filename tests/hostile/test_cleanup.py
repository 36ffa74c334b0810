"""Nothing outlives a run, even when the grader itself was killed: the next grader sweeps what an
earlier one left (processes of its kernel users, their files, its run folders)."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from grader.execute import sandbox
from grader.execute.sandbox import users

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="kernel users of their own need root")


def dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def test_a_killed_graders_daemon_files_and_run_folder_are_swept(tmp_path):
    uid = sandbox.FRESH_UIDS[0] + sandbox.FRESH_UIDS[1] - 12345  # an id no running grader draws at random
    gone = dead_pid()
    registry = Path(tempfile.gettempdir()) / sandbox.REGISTRY
    registry.mkdir(mode=0o700, exist_ok=True)
    (registry / str(uid)).write_text(f"{gone} 12345")
    daemon = subprocess.Popen(["sleep", "600"], preexec_fn=lambda: (os.setsid(), os.setgid(uid), os.setuid(uid)))
    leftover = Path("/dev/shm") / f"grader-test-{uid}"
    leftover.write_bytes(b"x")
    os.chown(leftover, uid, uid)
    folder = Path(tempfile.gettempdir()) / f"grader-run-{gone}-abcdefgh"
    folder.mkdir()
    try:
        swept = sandbox.sweep_stale()
        for _ in range(100):
            if daemon.poll() is not None:
                break
            time.sleep(0.05)
        assert daemon.poll() == -signal.SIGKILL
        assert not leftover.exists() and not folder.exists() and not (registry / str(uid)).exists()
        assert any(str(uid) in line for line in swept) and str(folder) in swept
    finally:
        if daemon.poll() is None:
            daemon.kill()
        leftover.unlink(missing_ok=True)


def test_a_running_graders_kernel_user_is_left_alone():
    uid = sandbox.FRESH_UIDS[0] + sandbox.FRESH_UIDS[1] - 54321
    registry = Path(tempfile.gettempdir()) / sandbox.REGISTRY
    registry.mkdir(mode=0o700, exist_ok=True)
    entry = registry / str(uid)
    entry.write_text(f"{os.getpid()} {users._started(os.getpid())}")
    try:
        assert not any(str(uid) in line for line in sandbox.sweep_stale())
        assert entry.exists()
    finally:
        entry.unlink(missing_ok=True)


def test_every_world_writable_folder_is_cleaned_not_three():
    found = sandbox.world_writable()
    assert os.path.realpath(tempfile.gettempdir()) in found and "/dev/shm" in found
