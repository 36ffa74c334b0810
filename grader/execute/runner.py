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

The parts, in the order a run meets them: ``staging.py`` (the run folder, the cells made ready,
the datasets copied in), ``launch.py`` (the kernel's environment, start, death and shutdown),
``cells.py`` (the code cells under the time limits), ``channel.py`` (hidden requests and the
facts that come back), ``cell_errors.py`` (the errors the notebook shows); ``run_record.py``
holds what they share about one run.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import logging
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import nbformat

from grader.execute import sandbox
from grader.execute.cell_errors import collect_cell_errors
from grader.execute.cells import name_limits, new_client, run_cells
from grader.execute.channel import collect_facts
from grader.execute.launch import kernel_environment, shutdown, start_kernel
from grader.execute.run_record import Run
from grader.execute.sandbox import SandboxLimits
from grader.execute.staging import (
    RunFolder,
    cell_source,
    mentioned_datasets,
    prepare_cells,
    restore_sources,
    stage_datasets,
)
from grader.execute.verify import start_early, verify_models
from grader.facts import Facts
from grader.machine import available_cores
from grader.models import Execution
from grader.settings import ExecutionLimits, FastBudget

log = logging.getLogger(__name__)


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
    confirm_in_full: bool = True,
    on_progress: Callable[[str], None] | None = None,
) -> Execution:
    """Execute a copy of ``notebook`` in a fresh kernel; the caller's notebook is never changed.

    ``datasets``: name -> file staged beside the notebook; a dataset the probe can serve
    (``standins.SERVED``) with no file, or not named but mentioned by the code, is served by its
    stand-in (``digits.py``, ``standins.py``, cached in ``cache_dir``). ``threads`` caps the kernel's
    BLAS/OpenMP/TensorFlow/PyTorch thread pools (default: the cores this process may use).
    ``mode`` "no-run" returns the notebook unexecuted; "full" runs it as written; "fast" runs it
    under ``budget`` (default ``FastBudget()``): fewer epochs, samples and batches, the same
    held-out verdicts (see the ``probe`` package). The caps used are in ``facts.budget``.
    ``sandbox_limits`` (default ``limits.sandbox``): the kernel's resource, network and output
    limits; ``Execution.sandbox`` says what was enforced. ``on_progress`` hears, in words, what
    the run is doing (the kernel starting, each code cell) for a person waiting on it.

    A fast run whose verifier finds a model near chance after the budget cut that model's training
    is run again in full (unless not ``confirm_in_full``: a student's self-check, which must stay
    quick, says so instead): a slow learner has not learned yet after one epoch, and only the full
    run tells it from a model that never learns, so fast mode's verdict is always the full run's.
    """
    if mode not in ("full", "fast", "no-run"):
        raise ValueError(f"run_notebook: mode must be 'full', 'fast' or 'no-run', not {mode!r}")
    run_once = functools.partial(
        _run_once, notebook, datasets=datasets, limits=limits, budget=budget, kernel_name=kernel_name,
        threads=threads, cache_dir=cache_dir, sandbox_limits=sandbox_limits, on_progress=on_progress,
    )  # fmt: skip
    execution = run_once(mode=mode)
    slow = execution.facts.unlearned_under_budget() if execution.mode == "fast" and confirm_in_full else []
    if not slow:
        return execution
    names = ", ".join(model.variable or model.name or f"model {model.id}" for model in slow)
    why = (
        f"run again with the full budget: in the fast run, {names} scored near chance after the budget cut its"
        " training, and only a full run tells a slow learner from a model that does not learn"
    )
    if on_progress:
        on_progress(why)
    full = run_once(mode="full")
    return replace(full, seconds=execution.seconds + full.seconds, message="; ".join(filter(None, (why, full.message))))


def _run_once(
    notebook: Any,
    *,
    datasets: dict[str, Path | None],
    limits: ExecutionLimits,
    mode: str,
    budget: FastBudget | None,
    kernel_name: str,
    threads: int | None,
    cache_dir: Path | None,
    sandbox_limits: SandboxLimits | None,
    on_progress: Callable[[str], None] | None,
) -> Execution:
    started = time.monotonic()
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        return Execution(notebook=notebook, facts=Facts(), status="error", mode=mode, message="no notebook to run")
    nb = nbformat.from_dict(copy.deepcopy(dict(notebook)))
    if mode == "no-run":
        return Execution.not_run(nb, "not run (--no-run)")
    contained = sandbox_limits or limits.sandbox
    run = Run(
        nb=nb,
        limits=limits,
        kernel_name=kernel_name,
        budget=(budget or FastBudget()).model_dump() if mode == "fast" else None,
        contained=contained,
        enforcement=sandbox.plan(contained.network, contained.user),
        progress=on_progress,
    )
    start_early([cell_source(cell) for cell in nb.cells if cell.get("cell_type") == "code"])
    originals, skipped = prepare_cells(nb)
    unstaged = _run_in_fresh_folder(run, datasets, cache_dir, threads)
    restore_sources(nb, originals)
    log.debug("run timings: %s", run.timings)
    return _execution(run, mode, time.monotonic() - started, tuple(skipped), unstaged)


def _execution(run: Run, mode: str, seconds: float, skipped: tuple, unstaged: str | None) -> Execution:
    """What the run did, as the record the later stages read (``unstaged``: why it never ran)."""
    if unstaged:
        return Execution(
            notebook=run.nb, facts=Facts(), status="error", mode=mode, skipped=skipped, seconds=seconds,
            message=unstaged,
        )  # fmt: skip
    return Execution(
        notebook=run.nb,
        facts=run.facts,
        status=run.status,
        mode=mode,
        seconds=seconds,
        cell_errors=tuple(collect_cell_errors(run.nb, ignore_interrupts=run.timed_out_cells)),
        skipped=skipped,
        message="; ".join(run.messages) or None,
        sandbox=run.enforcement.describe(run.contained),
        tampered=run.tampered,
    )


def _run_in_fresh_folder(
    run: Run, datasets: dict[str, Path | None], cache_dir: Path | None, threads: int | None
) -> str | None:
    """Runs ``run`` in a folder and as a kernel user of its own, then verifies its models; neither
    survives it. Returns why the datasets could not be staged (the kernel then never starts)."""
    who = sandbox.kernel_user(run.enforcement)
    folder = RunFolder.create(who)
    try:
        try:
            run.served, held_out = stage_datasets(datasets, folder.work, cache_dir, mentioned_datasets(run.nb))
        except (OSError, ImportError, ValueError) as exc:
            return f"could not stage the dataset files: {exc}"
        folder.write_notebook(run.nb)
        folder.hand_over(who)
        run.folder, run.who = folder, who
        run.env = kernel_environment(folder.home, threads or available_cores(), scratch=folder.scratch, user=who)
        try:
            _run_coroutine(lambda: execute(run))
        except Exception as exc:  # a grader bug must not stop the batch: this submission says so
            log.exception("running the notebook failed")
            run.status = "error"
            run.messages.append(f"the grader failed while running this notebook: {type(exc).__name__}: {exc}")
        sandbox.release(who)  # nothing of the kernel's may run while its models are verified
        who = None
        if not run.tampered:
            run.facts = verify_models(run.facts, folder.models, held_out, frozenset(run.served))
            run.timings["verify"] = run.facts.verification.seconds
    finally:
        sandbox.release(who)  # what the kernel left running or in /tmp goes with it
        folder.remove()
    return None


async def execute(run: Run) -> None:
    """The kernel's whole life for one run: start, the cells, the facts, shutdown."""
    run.client = new_client(run)
    try:
        if await start_kernel(run):
            await run_cells(run)
            await collect_facts(run)
    finally:
        await shutdown(run)
    name_limits(run)


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
