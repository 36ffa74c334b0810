"""Run one notebook in a fresh kernel and say what happened: outputs, errors, timeouts, facts.

The kernel starts in a private temporary folder holding only a copy of the notebook and its
dataset files, with a clean environment (none of the grader's variables). Before the first
cell a hidden request installs the probe (``probe.py``); before each cell a silent one-line
request tells the probe which notebook cell is running; after the last cell a hidden request
asks the probe for its report, which comes back as one ``display_data`` with a private MIME type
and this run's nonce. Hidden requests are ``silent``: they leave no output, no execution count
and no history, and the returned notebook has exactly the input's cells.
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
from typing import Any

import nbformat
from jupyter_client.kernelspec import NoSuchKernel
from jupyter_core.utils import ensure_async
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from grader.assignment import ExecutionLimits, FastBudget
from grader.execute import digits
from grader.execute.facts import Facts, FactsError, parse_facts
from grader.execute.probe import FACTS_MIME
from grader.execute.shell import neutralise_shell
from grader.models import CellError, Execution, SkippedLine

log = logging.getLogger(__name__)

INTERRUPT_GRACE = 15.0  # seconds a timed-out cell gets to stop after the interrupt
REPORT_TIMEOUT = 60.0  # seconds for the probe's final report
TIMEOUT_ENAME = "CellTimeoutError"
DEAD_KERNEL_ENAME = "DeadKernelError"
_PROBE_SOURCE = Path(__file__).with_name("probe.py")
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
) -> Execution:
    """Execute a copy of ``notebook`` in a fresh kernel; the caller's notebook is never changed.

    ``datasets``: name -> file staged beside the notebook; ``mnist`` with no file is served by the
    digits stand-in (``digits.py``, cached in ``cache_dir``). ``threads`` caps the kernel's
    BLAS/OpenMP/TensorFlow/PyTorch thread pools (default: the cores this process may use).
    ``mode`` "no-run" returns the notebook unexecuted; "full" runs it as written; "fast" runs it
    under ``budget`` (default ``FastBudget()``): fewer epochs, samples and batches, the same
    held-out verdicts (see ``probe.py``). The caps used are in ``facts.budget``.
    """
    if mode not in ("full", "fast", "no-run"):
        raise ValueError(f"run_notebook: mode must be 'full', 'fast' or 'no-run', not {mode!r}")
    caps = (budget or FastBudget()).model_dump() if mode == "fast" else None
    started = time.monotonic()
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        return Execution(notebook=notebook, facts=Facts(), status="error", mode=mode, message="no notebook to run")
    nb = nbformat.from_dict(copy.deepcopy(dict(notebook)))
    if mode == "no-run":
        return Execution(notebook=nb, facts=Facts(), status="not_run", mode="no-run", message="not run (--no-run)")

    originals, skipped = _prepare_cells(nb)
    root = Path(tempfile.mkdtemp(prefix="grader-run-"))
    try:
        workdir, home = root / "work", root / "home"
        workdir.mkdir()
        home.mkdir()
        try:
            served = _stage_datasets(datasets, workdir, cache_dir)
        except (OSError, ImportError, ValueError) as exc:
            _restore_sources(nb, originals)
            return Execution(
                notebook=nb, facts=Facts(), status="error", mode=mode, skipped=tuple(skipped),
                seconds=time.monotonic() - started, message=f"could not stage the dataset files: {exc}",
            )  # fmt: skip
        (workdir / "notebook.ipynb").write_text(json.dumps(nb), encoding="utf-8")
        run = _Run(
            nb=nb,
            workdir=workdir,
            env=kernel_environment(home, threads or available_cores()),
            limits=limits,
            kernel_name=kernel_name,
            served=served,
            checkpoint=root / "facts-checkpoint.json",
            kernel_log=root / "kernel.log",
            budget=caps,
        )
        try:
            _run_coroutine(run.execute)
        except Exception as exc:  # a grader bug must not stop the batch: this submission says so
            log.exception("running the notebook failed")
            run.status = "error"
            run.messages.append(f"the grader failed while running this notebook: {type(exc).__name__}: {exc}")
    finally:
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
    )


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity), not all the machine's."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def kernel_environment(home: Path, threads: int) -> dict[str, str]:
    """The kernel's whole environment: nothing of the grader's own (tokens, keys) leaks in.

    The thread caps size every pool the kernel may start: BLAS/OpenMP (numpy, PyTorch's intra-op
    pool) and both of TensorFlow's pools, which read ``TF_NUM_INTRAOP_THREADS`` and
    ``TF_NUM_INTEROP_THREADS`` when their runtime starts."""
    cap = str(max(1, int(threads)))
    return {
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
    """Clears code cells' old outputs and neutralises their shell lines; returns the originals."""
    originals, skipped = {}, []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        source = _source(cell)
        originals[index] = source
        cell.setdefault("metadata", {})
        cell.outputs = []
        cell.execution_count = None
        runnable, found = neutralise_shell(source, index)
        cell.source = runnable
        skipped.extend(found)
    return originals, skipped


def _restore_sources(nb: Any, originals: dict[int, str]) -> None:
    for index, source in originals.items():
        nb.cells[index].source = source


def _stage_datasets(datasets: dict[str, Path | None], workdir: Path, cache_dir: Path | None) -> dict[str, dict]:
    """Copies each dataset file into the working folder; returns what the probe serves."""
    served = {}
    for name, path in datasets.items():
        if path is None:
            if name != "mnist":
                continue  # nothing to stage; the notebook's own loading code will say so
            origin, target, source = digits.mnist_standin_npz(cache_dir), workdir / "mnist.npz", digits.SOURCE
        else:
            origin = Path(path)
            target, source = workdir / origin.name, f"file {origin.name}"
        # A copy, not a hard link: a student writing to the file must not change the cache.
        shutil.copyfile(origin, target)
        if name == "mnist":
            served["mnist"] = {"path": str(target), "source": source}
    return served


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

    @property
    def timeout_marker(self) -> str:
        return f"grader-timeout-{self.nonce}"

    async def execute(self) -> None:
        client = NotebookClient(
            self.nb,
            timeout=self.limits.cell_timeout,
            startup_timeout=int(self.limits.startup_timeout),
            kernel_name=self.kernel_name,
            allow_errors=True,
            record_timing=False,
            interrupt_on_timeout=True,
            # nbclient's stand-in reply for a timed-out cell: recognised by this run's own marker.
            error_on_timeout={"ename": self.timeout_marker, "evalue": "", "traceback": []},
            shutdown_kernel="immediate",
            resources={"metadata": {"path": str(self.workdir)}},
        )
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

    async def _start_kernel(self) -> bool:
        client = self.client
        started = time.monotonic()
        try:
            client.km = client.create_kernel_manager()
            # The kernel process's own stdout/stderr (C-level logs, crash messages) go to a file,
            # not the grader's console; what the notebook prints arrives as cell outputs.
            with self.kernel_log.open("wb") as log_file:
                await client.async_start_new_kernel(
                    env=self.env, cwd=str(self.workdir), stdout=log_file, stderr=log_file
                )
            await client.async_start_new_kernel_client()
        except NoSuchKernel:
            return self._fail(f"the kernel {self.kernel_name!r} is not installed (see `jupyter kernelspec list`)")
        except Exception as exc:  # startup timeout, kernel crashing on start
            return self._fail(f"the kernel did not start: {type(exc).__name__}: {exc}")
        self.timings["kernel_start"] = time.monotonic() - started
        started = time.monotonic()
        config = {
            "nonce": self.nonce,
            "attribute": self.attribute,
            "datasets": self.served,
            "checkpoint": str(self.checkpoint),
            "budget": self.budget,
        }
        boot = _PROBE_SOURCE.read_text(encoding="utf-8") + f"\ninstall({config!r})\n"
        code = f"exec(compile({boot!r}, '<grader-probe>', 'exec'), {{'__name__': 'grader_probe'}})"
        reply, _ = await self._hidden(code, self.limits.startup_timeout)
        if reply is None or reply["content"].get("status") != "ok":
            detail = f": {reply['content'].get('ename')}: {reply['content'].get('evalue')}" if reply else ""
            return self._fail(f"the grader's probe could not be installed in the kernel{detail}")
        self.timings["probe"] = time.monotonic() - started
        return True

    def _fail(self, message: str) -> bool:
        self.status = "error"
        self.messages.append(message + self._kernel_log_tail())
        return False

    def _kernel_log_tail(self) -> str:
        try:
            tail = self.kernel_log.read_bytes()[-400:].decode("utf-8", errors="replace").strip()
        except OSError:
            return ""
        lines = [line for line in tail.splitlines() if "without encryption" not in line]
        return f" (kernel log: ...{' | '.join(lines[-3:])})" if lines else ""

    async def _run_cells(self) -> None:
        client = self.client
        deadline = time.monotonic() + self.limits.notebook_timeout
        started = time.monotonic()
        for index, cell in enumerate(self.nb.cells):
            if cell.cell_type != "code" or not _source(cell).strip():
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._notebook_timeout(index)
                break
            self.cell_budget = min(self.limits.cell_timeout, remaining)
            self.last_reply = None
            try:
                await client.async_execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
            except DeadKernelError:
                died = "The kernel died while running this cell (out of memory, or a crash)."
                cell.outputs.append(_error_output(DEAD_KERNEL_ENAME, died))
                self.status = "kernel_died"
                self.messages.append(f"the kernel died in cell {index}{self._kernel_log_tail()}")
                break
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
            alive, _ = await self._hidden("pass", INTERRUPT_GRACE)
            if alive is None:
                self.messages.append(f"the kernel did not stop after cell {index} was interrupted; the run was ended")
                self.stuck = True
                break
            if expired:
                self._notebook_timeout(index)
                break
        self.timings["cells"] = time.monotonic() - started

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
        payload = None
        if self.status != "kernel_died" and not self.stuck:
            started = time.monotonic()
            reply, outputs = await self._hidden(f"__import__('sys').{self.attribute}.report()", REPORT_TIMEOUT)
            self.timings["report"] = time.monotonic() - started
            for message in outputs:
                if message["msg_type"] == "display_data" and FACTS_MIME in message["content"].get("data", {}):
                    found = message["content"]["data"][FACTS_MIME]
                    payload = found if isinstance(found, str) else json.dumps(found)
        source = "report"
        if payload is None:
            source = "checkpoint"
            try:
                if self.checkpoint.stat().st_size > 0:
                    payload = self.checkpoint.read_bytes().decode("utf-8", errors="replace")
            except OSError:
                pass
        if payload is None:
            if self.status == "ok":
                self.messages.append("the probe's report did not arrive")
            return
        try:
            facts = parse_facts(payload)
            if json.loads(payload).get("nonce") != self.nonce:
                raise FactsError("the kernel's facts report does not carry this run's nonce")
        except FactsError as exc:
            self.messages.append(str(exc))
            self.facts = Facts(warnings=[str(exc)[:500]])
            return
        if source == "checkpoint":
            note = "facts come from the probe's last checkpoint: the final report could not run"
            facts = facts.model_copy(update={"warnings": [*facts.warnings, note]})
        self.facts = facts

    async def _hidden(self, code: str, timeout: float) -> tuple[dict | None, list[dict]]:
        """Runs ``code`` silently; (its execute_reply or None on timeout/death, its iopub messages)."""
        kc = self.client.kc
        msg_id = kc.execute(code, silent=True, store_history=False, allow_stdin=False, stop_on_error=False)
        deadline = time.monotonic() + timeout
        outputs: list[dict] = []
        idle = False
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None, outputs
            channel = kc.get_shell_msg if idle else kc.get_iopub_msg
            try:
                message = await channel(timeout=min(remaining, 1.0))
            except Empty:
                if not await ensure_async(kc.is_alive()):
                    return None, outputs
                continue
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            if idle:
                return message, outputs
            if message["msg_type"] == "status":
                idle = message["content"].get("execution_state") == "idle"
            else:
                outputs.append(message)

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


def _error_output(ename: str, evalue: str) -> Any:
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])
