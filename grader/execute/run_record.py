"""The record of one notebook's run as it goes: what it was given, where it runs, and what
happened so far. The runner's parts (kernel launch, cells, the facts channel) each read and
update it; the runner turns it into an ``Execution`` at the end."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, Callable

from nbclient import NotebookClient

from grader.execute.sandbox import Enforcement, KernelUser, SandboxLimits
from grader.execute.staging import RunFolder
from grader.facts import Facts
from grader.settings import ExecutionLimits


@dataclass
class Run:
    nb: Any
    limits: ExecutionLimits
    kernel_name: str
    budget: dict[str, int] | None = None
    contained: SandboxLimits = field(default_factory=SandboxLimits)
    enforcement: Enforcement = field(default_factory=Enforcement)
    progress: Callable[[str], None] | None = None  # told what the run is doing, for a person waiting
    # Where it runs, set once its folder is made and its datasets staged.
    folder: RunFolder | None = None
    env: dict[str, str] = field(default_factory=dict)
    served: dict[str, dict] = field(default_factory=dict)
    who: KernelUser | None = None
    nonce: str = field(default_factory=lambda: secrets.token_hex(16))
    attribute: str = field(default_factory=lambda: f"_grader_probe_{secrets.token_hex(6)}")
    # What happened.
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

    def say(self, message: str) -> None:
        if self.progress is not None:
            self.progress(message)

    @property
    def timeout_marker(self) -> str:
        return f"grader-timeout-{self.nonce}"
