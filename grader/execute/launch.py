"""Starting the kernel and ending it: its environment built from scratch, its process in the
sandbox on Unix sockets in the run folder, the probe installed before the first cell; why it
died when it did; its shutdown.

The kernel process's own stdout and stderr go to the run's kernel log (out of the kernel's
reach), whose last lines explain a kernel that would not start or died.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path

import zmq
from jupyter_client.kernelspec import NoSuchKernel
from jupyter_core.utils import ensure_async

from grader.execute import sandbox
from grader.execute.channel import hidden, probe_request
from grader.execute.outputs import MAX_MESSAGE, RICH_FACTOR
from grader.execute.probe import STREAM_CHUNK
from grader.execute.run_record import Run
from grader.execute.sandbox import KernelUser

log = logging.getLogger(__name__)

RECEIVE_QUEUE = 64  # messages the grader's sockets hold before the kernel's are dropped


def kernel_environment(
    home: Path, threads: int, *, scratch: Path | None = None, user: KernelUser | None = None
) -> dict[str, str]:
    """The kernel's whole environment: nothing of the grader's own (tokens, keys) leaks in.

    The thread caps size every pool the kernel may start: BLAS/OpenMP (numpy, PyTorch's intra-op
    pool) and both of TensorFlow's pools, which read ``TF_NUM_INTRAOP_THREADS`` and
    ``TF_NUM_INTEROP_THREADS`` when their runtime starts. ``scratch``: the kernel's temporary
    folder; ``user``: the sandbox's user (named, as libraries that ask for a user name expect)."""
    cap = str(max(1, int(threads)))
    extra = {"TMPDIR": str(scratch)} if scratch is not None else {}
    if user is not None:
        extra.update(USER=user.name, LOGNAME=user.name, MPLCONFIGDIR=str(home / ".matplotlib"))
    return extra | {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(home),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "PYTHONHASHSEED": "0",
        "OMP_NUM_THREADS": cap,
        "OPENBLAS_NUM_THREADS": cap,
        "MKL_NUM_THREADS": cap,
        "TF_NUM_INTRAOP_THREADS": cap,
        "TF_NUM_INTEROP_THREADS": cap,
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }


async def start_kernel(run: Run) -> bool:
    """Starts the kernel in the sandbox, then installs the probe; False (and why, in the run's
    messages) when either fails."""
    client = run.client
    started = time.monotonic()
    run.say("starting a fresh kernel")
    try:
        client.km = _kernel_manager(run)
        contain = sandbox.preexec(
            run.contained, run.enforcement, run.who, sandbox.process_allowance(run.contained, run.who)
        )
        # The kernel process's own stdout/stderr (C-level logs, crash messages) go to a file,
        # not the grader's console; what the notebook prints arrives as cell outputs.
        with run.folder.kernel_log.open("wb") as log_file:
            await client.async_start_new_kernel(
                env=run.env, cwd=str(run.folder.work), stdout=log_file, stderr=log_file, preexec_fn=contain
            )
        await _start_client(run)
    except NoSuchKernel:
        return _fail(run, f"the kernel {run.kernel_name!r} is not installed (see `jupyter kernelspec list`)")
    except Exception as exc:  # startup timeout, kernel crashing on start, a sandbox that cannot start
        return _fail(run, f"the kernel did not start: {type(exc).__name__}: {exc}")
    run.timings["kernel_start"] = time.monotonic() - started
    return await _install_probe(run)


async def _install_probe(run: Run) -> bool:
    started = time.monotonic()
    config = {
        "nonce": run.nonce,
        "attribute": run.attribute,
        "datasets": run.served,
        "checkpoint": str(run.folder.checkpoint),
        "budget": run.budget,
        "stream_chunk": STREAM_CHUNK,
        "rich_size": int(run.contained.output_size) * RICH_FACTOR,
    }
    reply = (await hidden(run, probe_request(f"install({config!r})"), run.limits.startup_timeout)).reply
    if reply is None or reply["content"].get("status") != "ok":
        detail = f": {reply['content'].get('ename')}: {reply['content'].get('evalue')}" if reply else ""
        return _fail(run, f"the grader's probe could not be installed in the kernel{detail}")
    run.timings["probe"] = time.monotonic() - started
    return True


def _kernel_manager(run: Run):
    """The kernel manager, on Unix sockets in the kernel's folder (a network namespace cuts
    TCP, even on the loopback; it does not cut Unix sockets)."""
    km = run.client.create_kernel_manager()
    km.transport = "ipc"
    km.ip = str(run.folder.kernel / "ipc")
    km.connection_file = str(run.folder.kernel / "connection.json")
    km.write_connection_file()
    sandbox.hand_over(run.folder.kernel, run.who)  # the kernel's user reads the connection file
    sandbox.confine(km, run.enforcement, run.contained, list(run.folder.kernels), run.folder.work)  # bubblewrap
    return km


async def _start_client(run: Run) -> None:
    """nbclient's ``async_start_new_kernel_client``, with bounded sockets: a message over
    ``MAX_MESSAGE`` bytes is refused, and at most ``RECEIVE_QUEUE`` wait to be read."""
    client = run.client
    client.kc = client.km.client()
    client.kc.context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE)
    client.kc.context.setsockopt(zmq.RCVHWM, RECEIVE_QUEUE)
    await ensure_async(client.kc.start_channels())
    await ensure_async(client.kc.wait_for_ready(timeout=client.startup_timeout))
    client.kc.allow_stdin = False


def _fail(run: Run, message: str) -> bool:
    run.status = "error"
    run.messages.append(message + _kernel_log_tail(run))
    return False


def _kernel_log_tail(run: Run) -> str:
    lines = _kernel_log_lines(run)
    return f" (kernel log: ...{' | '.join(lines[-3:])})" if lines else ""


def _kernel_log_lines(run: Run) -> list[str]:
    try:
        with run.folder.kernel_log.open("rb") as stream:
            stream.seek(max(0, stream.seek(0, os.SEEK_END) - 2000))
            tail = stream.read().decode("utf-8", errors="replace").strip()
    except OSError:
        return []
    return [line for line in tail.splitlines()[-20:] if "without encryption" not in line and line.strip()]


async def death_reason(run: Run) -> str:
    """Why the kernel process ended: its exit status, read against the sandbox's limits."""
    process = getattr(getattr(run.client.km, "provisioner", None), "process", None)
    code = None
    for _ in range(40):  # the process may still be on its way out
        code = process.poll() if process is not None else None
        if code is not None:
            break
        await asyncio.sleep(0.05)
    code = sandbox.kernel_returncode(code, run.enforcement)
    log_tail = "\n".join(_kernel_log_lines(run))
    run.died_by_limit = sandbox.limit_ended(code, log_tail)
    return sandbox.exit_reason(code, run.contained, log_tail)


async def shutdown(run: Run) -> None:
    client = run.client
    try:
        if client.kc is not None:
            client.kc.stop_channels()
    except Exception:
        log.debug("stopping the kernel channels failed", exc_info=True)
    try:
        if client.km is not None and client.km.has_kernel:
            await client.km.shutdown_kernel(now=True)
    except Exception:
        log.warning("shutting the kernel down failed", exc_info=True)
    finally:
        client.kc = None
