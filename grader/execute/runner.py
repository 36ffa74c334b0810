"""Run one notebook in a fresh kernel and say what happened: outputs, errors, timeouts, facts.

The kernel starts in a private temporary folder holding only a copy of the notebook and its
dataset files, with a clean environment (none of the grader's variables). Before the first
cell a hidden request installs the probe (the ``probe`` package); before each cell a silent one-line
request tells the probe which notebook cell is running; after the last cell a hidden request
asks the probe for its report, which comes back as one ``display_data`` with a private MIME type
and this run's nonce. Hidden requests are ``silent``: they leave no output, no execution count
and no history, and the returned notebook has exactly the input's cells.

The kernel runs in the sandbox (``sandbox.py``: resource limits, no network, a user of its own,
a private /proc) and talks to the grader over Unix sockets in its run folder. What it prints is
cut to the output limits as it arrives (``outputs.py``). The final report is asked of a fresh
copy of the probe's code, which first checks that the probe and its recorders are still the
grader's own; a run whose recorders were tampered with keeps no facts and says so.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import Any, Callable

import nbformat
import zmq
from jupyter_client.kernelspec import NoSuchKernel
from jupyter_core.utils import ensure_async
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from grader.execute import sandbox, standins
from grader.execute.dataset_files import FILE_PREFIX
from grader.execute.outputs import MAX_MESSAGE, RICH_FACTOR, OutputBudget, keep_saved_text
from grader.execute.probe import FACTS_MIME, STREAM_CHUNK, TAMPERED, probe_source
from grader.execute.sandbox import Enforcement, KernelUser, SandboxLimits, size_text
from grader.execute.shell import neutralise_shell
from grader.execute.verify import verify_models
from grader.facts import MAX_FACTS_BYTES, Facts, FactsError, parse_facts
from grader.machine import available_cores
from grader.models import CellError, Execution, SkippedLine
from grader.settings import ExecutionLimits, FastBudget

log = logging.getLogger(__name__)

CHECKPOINT_USED = "needs review: facts from the probe's checkpoint"
INTERRUPT_GRACE = 15.0  # seconds a timed-out cell gets to stop after the interrupt
REPORT_TIMEOUT = 60.0  # seconds for the probe's final report
SILENT_CHANNEL = 5.0  # seconds after a hidden request's reply in which its output must have begun
MAX_FACTS_READ = MAX_FACTS_BYTES + 1  # bytes read of the checkpoint file: one more than may pass
RECEIVE_QUEUE = 64  # messages the grader's sockets hold before the kernel's are dropped
TIMEOUT_ENAME = "CellTimeoutError"
DEAD_KERNEL_ENAME = "DeadKernelError"
# Read once: a probe edited or upgraded while a batch runs must not make every running
# notebook fail its final audit against a different copy.
_PROBE_SOURCE = probe_source()
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_CELL_FRAME = re.compile(r"^\s*(?:Cell In ?\[[^\]]*\]|Input In ?\[[^\]]*\]|File <ipython-input-[^>]*>), line \d+")
_ARROW = re.compile(r"^-*>\s*\d*\s?")


def run_notebook(
    notebook: Any,
    *,
    datasets: dict[str, Path | None],
    limits: ExecutionLimits,
    mode: str = "full",
    budget: FastBudget | None = None,
    kernel_name: str = "python3",
    threads: int | None = None,
    cache_dir: Path | None = None,
    sandbox_limits: SandboxLimits | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> Execution:
    """Execute a copy of ``notebook`` in a fresh kernel; the caller's notebook is never changed.

    ``datasets``: name -> file staged beside the notebook; ``mnist``, ``fashion_mnist``, ``cifar10``
    and ``cifar100`` with no file, or not named but mentioned by the code, are served by stand-ins
    (``digits.py``, ``standins.py``, cached in ``cache_dir``). ``threads`` caps the kernel's
    BLAS/OpenMP/TensorFlow/PyTorch thread pools (default: the cores this process may use).
    ``mode`` "no-run" returns the notebook unexecuted; "full" runs it as written; "fast" runs it
    under ``budget`` (default ``FastBudget()``): fewer epochs, samples and batches, the same
    held-out verdicts (see the ``probe`` package). The caps used are in ``facts.budget``.
    ``sandbox_limits`` (default ``limits.sandbox``): the kernel's resource, network and output
    limits; ``Execution.sandbox`` says what was enforced. ``on_progress`` hears, in words, what
    the run is doing (the kernel starting, each code cell) for a person waiting on it.
    """
    if mode not in ("full", "fast", "no-run"):
        raise ValueError(f"run_notebook: mode must be 'full', 'fast' or 'no-run', not {mode!r}")
    caps = (budget or FastBudget()).model_dump() if mode == "fast" else None
    started = time.monotonic()
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        return Execution(notebook=notebook, facts=Facts(), status="error", mode=mode, message="no notebook to run")
    nb = nbformat.from_dict(copy.deepcopy(dict(notebook)))
    if mode == "no-run":
        return Execution.not_run(nb, "not run (--no-run)")

    contained = sandbox_limits or limits.sandbox
    enforcement = sandbox.plan(contained.network, contained.user)
    who = sandbox.kernel_user(enforcement)
    originals, skipped = _prepare_cells(nb)
    root = Path(tempfile.mkdtemp(prefix=f"grader-run-{os.getpid()}-"))
    try:
        # The run folder: only the kernel's own folders are open to its user; the grader keeps
        # the kernel log here, out of the kernel's reach.
        workdir, home, kernel_dir, scratch = root / "work", root / "home", root / "kernel", root / "tmp"
        for folder in (workdir, home, kernel_dir, scratch, kernel_dir / "models"):
            folder.mkdir(mode=0o700)
        if who is not None:
            root.chmod(0o711)
        try:
            served, held_out = _stage_datasets(datasets, workdir, cache_dir, mentioned_datasets(nb))
        except (OSError, ImportError, ValueError) as exc:
            _restore_sources(nb, originals)
            return Execution(
                notebook=nb, facts=Facts(), status="error", mode=mode, skipped=tuple(skipped),
                seconds=time.monotonic() - started, message=f"could not stage the dataset files: {exc}",
            )  # fmt: skip
        (workdir / "notebook.ipynb").write_text(json.dumps(nb), encoding="utf-8")
        for folder in (workdir, home, kernel_dir, scratch):
            sandbox.hand_over(folder, who)
        run = _Run(
            nb=nb,
            workdir=workdir,
            env=kernel_environment(home, threads or available_cores(), scratch=scratch, user=who),
            limits=limits,
            kernel_name=kernel_name,
            served=served,
            checkpoint=kernel_dir / "facts-checkpoint.json",
            kernel_log=root / "kernel.log",
            budget=caps,
            contained=contained,
            enforcement=enforcement,
            who=who,
            kernel_dir=kernel_dir,
            progress=on_progress,
        )
        try:
            _run_coroutine(run.execute)
        except Exception as exc:  # a grader bug must not stop the batch: this submission says so
            log.exception("running the notebook failed")
            run.status = "error"
            run.messages.append(f"the grader failed while running this notebook: {type(exc).__name__}: {exc}")
        sandbox.release(who)  # nothing of the kernel's may run while its models are verified
        who = None
        if not run.tampered:
            run.facts = verify_models(run.facts, kernel_dir / "models", held_out)
            run.timings["verify"] = run.facts.verification.seconds
    finally:
        sandbox.release(who)  # what the kernel left running or in /tmp goes with it
        shutil.rmtree(root, ignore_errors=True)
    _restore_sources(nb, originals)
    log.debug("run timings: %s", run.timings)
    return Execution(
        notebook=nb,
        facts=run.facts,
        status=run.status,
        mode=mode,
        seconds=time.monotonic() - started,
        cell_errors=tuple(collect_cell_errors(nb, ignore_interrupts=run.timed_out_cells)),
        skipped=tuple(skipped),
        message="; ".join(run.messages) or None,
        sandbox=enforcement.describe(contained),
        tampered=run.tampered,
    )


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


def collect_cell_errors(nb: Any, ignore_interrupts: frozenset[int] | set[int] = frozenset()) -> list[CellError]:
    """One CellError per error output of each code cell, with the student's line that raised.

    ``ignore_interrupts``: cells the grader interrupted, whose KeyboardInterrupt is its own doing.
    """
    errors = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") != "error":
                continue
            ename = str(output.get("ename", ""))
            if ename == "KeyboardInterrupt" and index in ignore_interrupts:
                continue
            line = student_line(output.get("traceback", []))
            evalue = _strip_ansi(str(output.get("evalue", "")))
            errors.append(CellError(cell=index, ename=ename, evalue=evalue, line=line))
    return errors


def student_line(traceback: list[str]) -> str:
    """The last line of the student's own code in an IPython traceback (ANSI colours removed)."""
    lines = _strip_ansi("\n".join(traceback)).splitlines()
    headers = [i for i, line in enumerate(lines) if _CELL_FRAME.match(line)]
    if not headers:
        return ""
    block = lines[headers[-1] + 1 :]
    for line in block:
        if line.lstrip().startswith("-") and ">" in line.split()[0]:
            return _ARROW.sub("", line.strip()).strip()
    for line in block:  # a SyntaxError shows the line without an arrow
        if line.strip():
            return line.strip()
    return ""


# ---------------------------------------------------------------------------------------------


def _strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _source(cell: Any) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _prepare_cells(nb: Any) -> tuple[dict[int, str], list[SkippedLine]]:
    """Clears code cells' old outputs (keeping their text in the cell's metadata, for checks the
    environment stops) and neutralises their shell lines; returns the originals."""
    originals, skipped = {}, []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        source = _source(cell)
        originals[index] = source
        cell.setdefault("metadata", {})
        keep_saved_text(cell)
        cell.outputs = []
        cell.execution_count = None
        runnable, found = neutralise_shell(source, index)
        cell.source = runnable
        skipped.extend(found)
    return originals, skipped


def _restore_sources(nb: Any, originals: dict[int, str]) -> None:
    for index, source in originals.items():
        nb.cells[index].source = source


def _stage_datasets(
    datasets: dict[str, Path | None], workdir: Path, cache_dir: Path | None, mentioned: frozenset[str] = frozenset()
) -> tuple[dict[str, dict], Path | None]:
    """Copies each dataset file into the working folder; returns what the probe serves, and the
    grader's own MNIST file (whose test split the verifier measures models on: not the kernel's copy).

    A dataset the probe can serve (``standins.SERVED``) with no file is served by its stand-in,
    when the assignment names it or the notebook's code mentions it (``mentioned``). The
    assignment's ``files:`` (named ``file:NAME``) are staged read-only under their own names."""
    served, held_out = {}, None
    wanted = {**{name: None for name in mentioned}, **datasets}
    for name, path in wanted.items():
        if name.startswith(FILE_PREFIX) and path is not None:
            target = workdir / Path(path).name
            shutil.copyfile(path, target)
            target.chmod(0o444)
            served.setdefault("files", {})[target.name] = str(target)
            continue
        if path is None:
            if name not in standins.SERVED:
                continue  # nothing to stage; the notebook's own loading code will say so
            origin, target, source = (
                standins.standin_npz(name, cache_dir),
                workdir / f"{name}.npz",
                standins.source_of(name),
            )
        else:
            origin = Path(path)
            target, source = workdir / origin.name, f"file {origin.name}"
        # A copy, not a hard link: a student writing to the file must not change the cache.
        shutil.copyfile(origin, target)
        if name in standins.SERVED:
            served[name] = {"path": str(target), "source": source}
        if name == "mnist":
            held_out = origin
    return served, held_out


_MENTIONS = {
    "mnist": re.compile(r"mnist", re.IGNORECASE),
    "fashion_mnist": re.compile(r"fashion[-_]?mnist", re.IGNORECASE),
    "cifar10": re.compile(r"cifar[-_]?10(?!0)", re.IGNORECASE),
    "cifar100": re.compile(r"cifar[-_]?100", re.IGNORECASE),
}


def mentioned_datasets(nb: Any) -> frozenset[str]:
    """The served datasets whose names the notebook's code cells mention (only those are staged)."""
    code = "\n".join(_source(cell) for cell in nb.cells if cell.cell_type == "code")
    return frozenset(name for name, pattern in _MENTIONS.items() if pattern.search(code))


def _run_coroutine(factory) -> None:
    """Runs ``factory()`` to completion, also when the caller already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(factory())
        return
    failure: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(factory())
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=target, name="grader-run")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


class _Client(NotebookClient):
    """nbclient with the output limits applied to each message before it is stored."""

    budget: OutputBudget | None = None

    def process_message(self, msg: dict, cell: Any, cell_index: int):
        if self.budget is not None and not self.budget.trim(msg, cell_index):
            return None
        return super().process_message(msg, cell, cell_index)


@dataclass
class _Run:
    nb: Any
    workdir: Path
    env: dict[str, str]
    limits: ExecutionLimits
    kernel_name: str
    served: dict[str, dict]
    checkpoint: Path
    kernel_log: Path
    budget: dict[str, int] | None = None
    contained: SandboxLimits = field(default_factory=SandboxLimits)
    enforcement: Enforcement = field(default_factory=Enforcement)
    who: KernelUser | None = None
    kernel_dir: Path | None = None
    nonce: str = field(default_factory=lambda: secrets.token_hex(16))
    attribute: str = field(default_factory=lambda: f"_grader_probe_{secrets.token_hex(6)}")
    status: str = "ok"
    facts: Facts = field(default_factory=Facts)
    messages: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    timed_out_cells: set[int] = field(default_factory=set)
    client: NotebookClient | None = None
    cell_budget: float = 0.0
    last_reply: dict | None = None
    stuck: bool = False  # the kernel ignored the interrupt: nothing more can run in it
    tampered: bool = False  # the probe or its recorders were not the grader's own at the end
    died_by_limit: bool = False  # the kernel died of a limit the grader enforces (CPU, memory, file size)
    truncated: list[int] = field(default_factory=list)  # cells whose output was cut to the limits
    progress: Callable[[str], None] | None = None  # told what the run is doing, for a person waiting

    def _say(self, message: str) -> None:
        if self.progress is not None:
            self.progress(message)

    @property
    def timeout_marker(self) -> str:
        return f"grader-timeout-{self.nonce}"

    async def execute(self) -> None:
        client = _Client(
            self.nb,
            timeout=self.limits.cell_timeout,
            startup_timeout=int(self.limits.startup_timeout),
            kernel_name=self.kernel_name,
            allow_errors=True,
            record_timing=False,
            interrupt_on_timeout=True,
            store_widget_state=False,
            # nbclient's stand-in reply for a timed-out cell: recognised by this run's own marker.
            error_on_timeout={"ename": self.timeout_marker, "evalue": "", "traceback": []},
            shutdown_kernel="immediate",
            resources={"metadata": {"path": str(self.workdir)}},
        )
        client.budget = OutputBudget(self.contained.output_size, self.contained.notebook_output_size)
        client.timeout_func = lambda cell: self.cell_budget
        client.on_cell_execute = self._announce_cell
        client.on_cell_executed = self._remember_reply
        self.client = client
        try:
            if await self._start_kernel():
                await self._run_cells()
                await self._collect_facts()
        finally:
            await self._shutdown()
        self._name_limits()
        if self.truncated:
            cells = ", ".join(map(str, self.truncated[:10])) + (", ..." if len(self.truncated) > 10 else "")
            where = f"cells {cells}" if len(self.truncated) > 1 else f"cell {cells}"
            self.messages.append(
                f"output over the grader's limits ({size_text(self.contained.output_size)} an output,"
                f" {size_text(self.contained.notebook_output_size)} a notebook) was cut in {where}"
            )

    async def _start_kernel(self) -> bool:
        client = self.client
        started = time.monotonic()
        self._say("starting a fresh kernel")
        try:
            client.km = self._kernel_manager()
            contain = sandbox.preexec(
                self.contained, self.enforcement, self.who, sandbox.process_allowance(self.contained, self.who)
            )
            # The kernel process's own stdout/stderr (C-level logs, crash messages) go to a file,
            # not the grader's console; what the notebook prints arrives as cell outputs.
            with self.kernel_log.open("wb") as log_file:
                await client.async_start_new_kernel(
                    env=self.env, cwd=str(self.workdir), stdout=log_file, stderr=log_file, preexec_fn=contain
                )
            await self._start_client()
        except NoSuchKernel:
            return self._fail(f"the kernel {self.kernel_name!r} is not installed (see `jupyter kernelspec list`)")
        except Exception as exc:  # startup timeout, kernel crashing on start, a sandbox that cannot start
            return self._fail(f"the kernel did not start: {type(exc).__name__}: {exc}")
        self.timings["kernel_start"] = time.monotonic() - started
        started = time.monotonic()
        config = {
            "nonce": self.nonce,
            "attribute": self.attribute,
            "datasets": self.served,
            "checkpoint": str(self.checkpoint),
            "budget": self.budget,
            "stream_chunk": STREAM_CHUNK,
            "rich_size": int(self.contained.output_size) * RICH_FACTOR,
        }
        boot = _PROBE_SOURCE + f"\ninstall({config!r})\n"
        code = f"exec(compile({boot!r}, '<grader-probe>', 'exec'), {{'__name__': 'grader_probe'}})"
        reply = (await self._hidden(code, self.limits.startup_timeout)).reply
        if reply is None or reply["content"].get("status") != "ok":
            detail = f": {reply['content'].get('ename')}: {reply['content'].get('evalue')}" if reply else ""
            return self._fail(f"the grader's probe could not be installed in the kernel{detail}")
        self.timings["probe"] = time.monotonic() - started
        return True

    def _kernel_manager(self):
        """The kernel manager, on Unix sockets in the kernel's folder (a network namespace cuts
        TCP, even on the loopback; it does not cut Unix sockets)."""
        km = self.client.create_kernel_manager()
        km.transport = "ipc"
        km.ip = str(self.kernel_dir / "ipc")
        km.connection_file = str(self.kernel_dir / "connection.json")
        km.write_connection_file()
        sandbox.hand_over(self.kernel_dir, self.who)  # the kernel's user reads the connection file
        return km

    async def _start_client(self) -> None:
        """nbclient's ``async_start_new_kernel_client``, with bounded sockets: a message over
        ``MAX_MESSAGE`` bytes is refused, and at most ``RECEIVE_QUEUE`` wait to be read."""
        client = self.client
        client.kc = client.km.client()
        client.kc.context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE)
        client.kc.context.setsockopt(zmq.RCVHWM, RECEIVE_QUEUE)
        await ensure_async(client.kc.start_channels())
        await ensure_async(client.kc.wait_for_ready(timeout=client.startup_timeout))
        client.kc.allow_stdin = False

    def _fail(self, message: str) -> bool:
        self.status = "error"
        self.messages.append(message + self._kernel_log_tail())
        return False

    def _kernel_log_tail(self) -> str:
        lines = self._kernel_log_lines()
        return f" (kernel log: ...{' | '.join(lines[-3:])})" if lines else ""

    def _kernel_log_lines(self) -> list[str]:
        try:
            with self.kernel_log.open("rb") as stream:
                stream.seek(max(0, stream.seek(0, os.SEEK_END) - 2000))
                tail = stream.read().decode("utf-8", errors="replace").strip()
        except OSError:
            return []
        return [line for line in tail.splitlines()[-20:] if "without encryption" not in line and line.strip()]

    async def _run_cells(self) -> None:
        client = self.client
        deadline = time.monotonic() + self.limits.notebook_timeout
        started = time.monotonic()
        code = [index for index, cell in enumerate(self.nb.cells) if cell.cell_type == "code" and _source(cell).strip()]
        for index, cell in enumerate(self.nb.cells):
            if index not in code:
                continue
            self._say(f"running code cell {code.index(index) + 1} of {len(code)} (cell {index})")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._notebook_timeout(index)
                break
            self.cell_budget = min(self.limits.cell_timeout, remaining)
            self.last_reply = None
            try:
                await client.async_execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
            except DeadKernelError:
                self._mark_truncated(cell, index)
                reason = await self._death_reason()
                cell.outputs.append(
                    _error_output(DEAD_KERNEL_ENAME, f"The kernel died while running this cell: {reason}.")
                )
                self.status = "kernel_died"
                self.messages.append(f"the kernel died in cell {index}: {reason}")
                break
            self._mark_truncated(cell, index)
            reply = (self.last_reply or {}).get("content", {})
            if reply.get("ename") != self.timeout_marker:
                continue
            self.timed_out_cells.add(index)
            expired = time.monotonic() >= deadline - 0.05
            if expired:
                evalue = (
                    f"The notebook reached its {self.limits.notebook_timeout:g} s time limit in this cell;"
                    " the grader stopped it here."
                )
            else:
                limit = f"{self.cell_budget:g} s"
                evalue = f"This cell ran longer than its {limit} limit and was interrupted by the grader."
            cell.outputs.append(_error_output(TIMEOUT_ENAME, evalue))
            self.status = "timeout"
            if not expired:
                self.messages.append(f"cell {index} ran longer than {self.cell_budget:g} s and was interrupted")
            alive = (await self._hidden("pass", INTERRUPT_GRACE)).reply
            if alive is None:
                self.messages.append(f"the kernel did not stop after cell {index} was interrupted; the run was ended")
                self.stuck = True
                break
            if expired:
                self._notebook_timeout(index)
                break
        self.timings["cells"] = time.monotonic() - started

    def _mark_truncated(self, cell: Any, index: int) -> None:
        marker = self.client.budget.marker(index)
        if marker is not None:
            cell.outputs.append(marker)
            self.truncated.append(index)

    async def _death_reason(self) -> str:
        """Why the kernel process ended: its exit status, read against the sandbox's limits."""
        process = getattr(getattr(self.client.km, "provisioner", None), "process", None)
        code = None
        for _ in range(40):  # the process may still be on its way out
            code = process.poll() if process is not None else None
            if code is not None:
                break
            await asyncio.sleep(0.05)
        log_tail = "\n".join(self._kernel_log_lines())
        self.died_by_limit = sandbox.limit_ended(code, log_tail)
        return sandbox.exit_reason(code, self.contained, log_tail)

    def _name_limits(self) -> None:
        """Says which sandbox limit a cell's error comes from, when one does."""
        named = set()
        for error in collect_cell_errors(self.nb, ignore_interrupts=self.timed_out_cells):
            text = f"{error.ename}: {error.evalue}"
            if error.ename == "MemoryError":
                what = f"it exceeded the {size_text(self.contained.memory)} memory limit (MemoryError)"
            elif "[Errno 27]" in text or "File too large" in text:
                what = f"it wrote a file larger than the {size_text(self.contained.file_size)} limit"
            elif "[Errno 11]" in text or "can't start new thread" in text:
                what = f"it reached the limit of {self.contained.processes} processes and threads"
            else:
                continue
            if what not in named:
                named.add(what)
                self.messages.append(f"cell {error.cell}: {what}")

    def _notebook_timeout(self, index: int) -> None:
        self.status = "timeout"
        self.messages.append(
            f"the notebook ran longer than its {self.limits.notebook_timeout:g} s limit; it was stopped at cell {index}"
        )

    async def _announce_cell(self, cell: Any, cell_index: int) -> None:
        """Tells the probe which cell runs next: one silent request, queued before the cell."""
        self.client.kc.execute(
            f"__import__('sys').{self.attribute}.enter_cell({int(cell_index)})",
            silent=True,
            store_history=False,
            stop_on_error=False,
        )

    async def _remember_reply(self, cell: Any, cell_index: int, execute_reply: dict) -> None:
        self.last_reply = execute_reply

    async def _collect_facts(self) -> None:
        """The probe's report, asked of a fresh copy of its code; the checkpoint file only when the
        kernel was ended by a limit the grader enforces (it cannot answer any more), and flagged."""
        payload, source = None, "report"
        if self.status != "kernel_died" and not self.stuck:
            started = time.monotonic()
            models = str(self.kernel_dir / "models")
            audit = _PROBE_SOURCE + f"\naudit_report({self.attribute!r}, {self.nonce!r}, {models!r})\n"
            code = f"exec(compile({audit!r}, '<grader-probe>', 'exec'), {{'__name__': 'grader_probe'}})"
            answer = await self._hidden(code, REPORT_TIMEOUT)
            self.timings["report"] = time.monotonic() - started
            if len(answer.facts) > 1:
                return self._tampered(
                    f"{len(answer.facts)} facts messages answered the grader's final request; only one is the grader's"
                )
            if not answer.facts:
                return self._no_report(answer)
            found = answer.facts[0]["content"]["data"][FACTS_MIME]
            payload = found if isinstance(found, str) else json.dumps(found)
        elif self.stuck or self.died_by_limit:
            source = "checkpoint"
            payload = self._read_checkpoint()
        else:
            self.messages.append(
                "the probe's checkpoint was not used: the kernel was not ended by a limit the grader enforces"
            )
        if payload is None:
            return
        try:
            facts = parse_facts(payload)
            if json.loads(payload).get("nonce") != self.nonce:
                return self._tampered(f"the kernel's facts ({source}) do not carry this run's nonce: they were forged")
        except FactsError as exc:
            self.messages.append(str(exc))
            self.facts = Facts(warnings=[str(exc)[:500]])
            return
        tampering = [warning for warning in facts.warnings if warning.startswith(TAMPERED)]
        if tampering:
            return self._tampered("; ".join(warning[len(TAMPERED) :].lstrip(": ") for warning in tampering[:5]))
        if source == "checkpoint":
            note = (
                f"{CHECKPOINT_USED}: the kernel was ended by a grader limit before its final report; the facts"
                " were written inside the kernel and could not be checked"
            )
            self.messages.append(note)
            facts = facts.model_copy(update={"warnings": [*facts.warnings, note]})
        self.facts = facts

    def _no_report(self, answer: _Answer) -> None:
        """No facts message answered the final request: say why, as far as the grader can tell."""
        content = (answer.reply or {}).get("content", {})
        if answer.reply is not None and not answer.heard:
            # The kernel answered, but not one message came back on its output channel: zmq cut
            # that channel for good when a message over MAX_MESSAGE arrived earlier.
            message = (
                f"output too large: a message from the kernel over {MAX_MESSAGE >> 20} MiB (a huge display or widget"
                " state) cut its output channel; later outputs and the facts could not be read"
            )
        elif content.get("ename") == "MemoryError":
            message = "the probe's report could not run: the kernel was out of memory; no facts could be read"
        else:
            failed = f" ({content.get('ename')}: {str(content.get('evalue'))[:200]})" if content.get("ename") else ""
            if answer.reply is not None and content.get("status") == "ok":
                failed = " (the notebook replaced how the kernel publishes outputs)"
            return self._tampered(f"the probe's report did not arrive although the kernel was running{failed}")
        self.status = "error"
        self.messages.append(message)
        self.facts = Facts(warnings=[message])

    def _read_checkpoint(self) -> str | None:
        try:
            if self.checkpoint.stat().st_size > 0:
                with self.checkpoint.open("rb") as stream:  # a kernel could grow the file: read what may count
                    return stream.read(MAX_FACTS_READ).decode("utf-8", errors="replace")
        except OSError:
            pass
        return None

    def _tampered(self, detail: str) -> None:
        """The recorders were not the grader's own: no fact of this run counts."""
        message = f"{TAMPERED}: {detail}; the run's facts were discarded, so its code checks fail"[:2000]
        self.tampered = True
        self.status = "error"
        self.messages.append(message)
        self.facts = Facts(warnings=[message[:500]])

    async def _hidden(self, code: str, timeout: float) -> _Answer:
        """Runs ``code`` silently and gathers what answers it: the execute_reply (None on timeout or
        death), every facts display it published, and whether anything at all came back on the
        output channel. Anything else it (or a thread of the notebook) prints is dropped."""
        kc = self.client.kc
        msg_id = kc.execute(code, silent=True, store_history=False, allow_stdin=False, stop_on_error=False)
        deadline = time.monotonic() + timeout
        answer = _Answer()
        replied_at = None
        while True:
            now = time.monotonic()
            if now >= deadline:
                return answer
            if answer.reply is None:
                answer.reply = await self._shell_reply(msg_id)
                replied_at = now if answer.reply is not None else None
            if answer.reply is not None and (answer.idle or (not answer.heard and now - replied_at > SILENT_CHANNEL)):
                return answer  # done; or the output channel is silent although the kernel answered
            try:
                message = await kc.get_iopub_msg(timeout=min(deadline - now, 0.2))
            except Empty:
                if answer.reply is None and not await ensure_async(kc.is_alive()):
                    return answer
                continue
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            answer.heard = True
            if message["msg_type"] == "status":
                answer.idle = answer.idle or message["content"].get("execution_state") == "idle"
            elif message["msg_type"] == "display_data" and FACTS_MIME in (message["content"].get("data") or {}):
                answer.facts.append(message)

    async def _shell_reply(self, msg_id: str) -> dict | None:
        """The execute_reply to ``msg_id`` if it has come; replies to other requests are dropped."""
        while True:
            try:
                message = await self.client.kc.get_shell_msg(timeout=0)
            except Empty:
                return None
            if message["parent_header"].get("msg_id") == msg_id:
                return message

    async def _shutdown(self) -> None:
        client = self.client
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


@dataclass
class _Answer:
    """What came back for one hidden request."""

    reply: dict | None = None
    facts: list[dict] = field(default_factory=list)  # facts displays answering it, in order
    heard: bool = False  # any message on the output channel answered it
    idle: bool = False  # the kernel said it finished it


def _error_output(ename: str, evalue: str) -> Any:
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])
