"""Running the notebook's code cells one by one under the time limits.

Each cell gets the smaller of its own limit and what is left of the notebook's; a cell over it
is interrupted, its output ends with a ``CellTimeoutError``, and the run goes on when the kernel
stops within ``INTERRUPT_GRACE`` (a notebook that swallows the interrupt ends the run). A kernel
that dies ends the run with the reason read from its exit status. Before each cell a silent
request tells the probe which cell runs; output over the limits is cut as it arrives.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from grader.execute.cell_errors import collect_cell_errors
from grader.execute.channel import hidden
from grader.execute.launch import death_reason
from grader.execute.outputs import OutputBudget
from grader.execute.run_record import Run
from grader.execute.sandbox import size_text
from grader.execute.staging import cell_source

INTERRUPT_GRACE = 15.0  # seconds a timed-out cell gets to stop after the interrupt
TIMEOUT_ENAME = "CellTimeoutError"
DEAD_KERNEL_ENAME = "DeadKernelError"


class LimitedClient(NotebookClient):
    """nbclient with the output limits applied to each message before it is stored."""

    budget: OutputBudget | None = None

    def process_message(self, msg: dict, cell: Any, cell_index: int):
        if self.budget is not None and not self.budget.trim(msg, cell_index):
            return None
        return super().process_message(msg, cell, cell_index)


def new_client(run: Run) -> LimitedClient:
    """The client that runs ``run``'s cells, with its time and output limits and the probe's hooks."""
    client = LimitedClient(
        run.nb,
        timeout=run.limits.cell_timeout,
        startup_timeout=int(run.limits.startup_timeout),
        kernel_name=run.kernel_name,
        allow_errors=True,
        record_timing=False,
        interrupt_on_timeout=True,
        store_widget_state=False,
        # nbclient's stand-in reply for a timed-out cell: recognised by this run's own marker.
        error_on_timeout={"ename": run.timeout_marker, "evalue": "", "traceback": []},
        shutdown_kernel="immediate",
        resources={"metadata": {"path": str(run.folder.work)}},
    )
    client.budget = OutputBudget(run.contained.output_size, run.contained.notebook_output_size)
    client.timeout_func = lambda cell: run.cell_budget
    client.on_cell_execute = partial(_announce_cell, run)
    client.on_cell_executed = partial(_remember_reply, run)
    return client


async def run_cells(run: Run) -> None:
    client = run.client
    deadline = time.monotonic() + run.limits.notebook_timeout
    started = time.monotonic()
    code = [index for index, cell in enumerate(run.nb.cells) if cell.cell_type == "code" and cell_source(cell).strip()]
    for index, cell in enumerate(run.nb.cells):
        if index not in code:
            continue
        run.say(f"running code cell {code.index(index) + 1} of {len(code)} (cell {index})")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            _notebook_timeout(run, index)
            break
        run.cell_budget = min(run.limits.cell_timeout, remaining)
        run.last_reply = None
        try:
            await client.async_execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
        except DeadKernelError:
            _mark_truncated(run, cell, index)
            reason = await death_reason(run)
            cell.outputs.append(_error_output(DEAD_KERNEL_ENAME, f"The kernel died while running this cell: {reason}."))
            run.status = "kernel_died"
            run.messages.append(f"the kernel died in cell {index}: {reason}")
            break
        _mark_truncated(run, cell, index)
        reply = (run.last_reply or {}).get("content", {})
        if reply.get("ename") == run.timeout_marker and not await _went_on_after_timeout(run, cell, index, deadline):
            break
    run.timings["cells"] = time.monotonic() - started


async def _went_on_after_timeout(run: Run, cell: Any, index: int, deadline: float) -> bool:
    """Marks cell ``index`` as timed out; whether the run may go on (the kernel stopped the cell
    and the notebook's time is not up)."""
    run.timed_out_cells.add(index)
    expired = time.monotonic() >= deadline - 0.05
    if expired:
        evalue = (
            f"The notebook reached its {run.limits.notebook_timeout:g} s time limit in this cell;"
            " the grader stopped it here."
        )
    else:
        limit = f"{run.cell_budget:g} s"
        evalue = f"This cell ran longer than its {limit} limit and was interrupted by the grader."
    cell.outputs.append(_error_output(TIMEOUT_ENAME, evalue))
    run.status = "timeout"
    if not expired:
        run.messages.append(f"cell {index} ran longer than {run.cell_budget:g} s and was interrupted")
    alive = (await hidden(run, "pass", INTERRUPT_GRACE)).reply
    if alive is None:
        run.messages.append(f"the kernel did not stop after cell {index} was interrupted; the run was ended")
        run.stuck = True
        return False
    if expired:
        _notebook_timeout(run, index)
        return False
    return True


def _mark_truncated(run: Run, cell: Any, index: int) -> None:
    marker = run.client.budget.marker(index)
    if marker is not None:
        cell.outputs.append(marker)
        run.truncated.append(index)


def _notebook_timeout(run: Run, index: int) -> None:
    run.status = "timeout"
    run.messages.append(
        f"the notebook ran longer than its {run.limits.notebook_timeout:g} s limit; it was stopped at cell {index}"
    )


async def _announce_cell(run: Run, cell: Any, cell_index: int) -> None:
    """Tells the probe which cell runs next: one silent request, queued before the cell."""
    run.client.kc.execute(
        f"__import__('sys').{run.attribute}.enter_cell({int(cell_index)})",
        silent=True,
        store_history=False,
        stop_on_error=False,
    )


async def _remember_reply(run: Run, cell: Any, cell_index: int, execute_reply: dict) -> None:
    run.last_reply = execute_reply


def name_limits(run: Run) -> None:
    """Says which sandbox limit a cell's error comes from, when one does, and which cells' output
    was cut to the output limits."""
    named = set()
    for error in collect_cell_errors(run.nb, ignore_interrupts=run.timed_out_cells):
        text = f"{error.ename}: {error.evalue}"
        if error.ename == "MemoryError":
            what = f"it exceeded the {size_text(run.contained.memory)} memory limit (MemoryError)"
        elif "[Errno 27]" in text or "File too large" in text:
            what = f"it wrote a file larger than the {size_text(run.contained.file_size)} limit"
        elif "[Errno 11]" in text or "can't start new thread" in text:
            what = f"it reached the limit of {run.contained.processes} processes and threads"
        else:
            continue
        if what not in named:
            named.add(what)
            run.messages.append(f"cell {error.cell}: {what}")
    if run.truncated:
        cells = ", ".join(map(str, run.truncated[:10])) + (", ..." if len(run.truncated) > 10 else "")
        where = f"cells {cells}" if len(run.truncated) > 1 else f"cell {cells}"
        run.messages.append(
            f"output over the grader's limits ({size_text(run.contained.output_size)} an output,"
            f" {size_text(run.contained.notebook_output_size)} a notebook) was cut in {where}"
        )


def _error_output(ename: str, evalue: str) -> Any:
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])
