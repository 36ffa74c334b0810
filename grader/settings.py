"""The limits an assignment sets on running a notebook: timeouts, the sandbox, the fast budget.

Plain typed records (``assignment.yaml``'s ``execution:``, ``sandbox:`` and ``budget:``), below
every stage: the runner, the sandbox and the batch read them; ``assignment.py`` loads them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ByteSize, ConfigDict, Field, field_validator

GiB, MiB = 1 << 30, 1 << 20


class SandboxLimits(BaseModel):
    """Per assignment (assignment.yaml ``sandbox:``). Sizes take units: ``4 GiB``, ``512 MiB``, ``100 kB``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    memory: ByteSize = Field(default=ByteSize(4 * GiB))  # memory each kernel process may write (RLIMIT_DATA)
    cpu_seconds: int = Field(default=3600, ge=1)  # CPU time of the kernel process
    processes: int = Field(default=256, ge=16)  # processes and threads of the kernel's user
    file_size: ByteSize = Field(default=ByteSize(GiB))  # largest file the kernel may write
    output_size: ByteSize = Field(default=ByteSize(100_000))  # text kept of one output
    notebook_output_size: ByteSize = Field(default=ByteSize(5_000_000))  # all outputs of the notebook
    network: bool = False  # true: the kernel may use the network
    user: str = Field(
        default="auto", min_length=1
    )  # grader run as root: "auto" (an id of its own), "root", or a user name

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: ByteSize) -> ByteSize:
        if value < 256 * MiB:
            raise ValueError(
                "must be at least 256 MiB (Python alone needs about 100 MiB; TensorFlow or PyTorch about 1 GiB)"
            )
        return value

    @field_validator("file_size", "output_size", "notebook_output_size")
    @classmethod
    def _at_least_a_kilobyte(cls, value: ByteSize) -> ByteSize:
        if value < 1000:
            raise ValueError("must be at least 1 kB")
        return value


class ExecutionLimits(BaseModel):
    """Everything that bounds one run. ``sandbox`` comes from the assignment file's own
    ``sandbox:`` section; it travels here so that whatever runs a notebook (a worker process, a
    cluster node) gets it with the timeouts, and a changed limit means new runs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cell_timeout: float = Field(default=600, gt=0)
    notebook_timeout: float = Field(default=1800, gt=0)
    startup_timeout: float = Field(default=60, gt=0)
    sandbox: SandboxLimits = SandboxLimits()


class FastBudget(BaseModel):
    """How far ``--budget fast`` cuts training and evaluation; verdicts must not depend on it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_epochs: int = Field(default=1, ge=1)
    max_train_samples: int = Field(default=2048, ge=32)
    max_eval_samples: int = Field(default=2000, ge=32)
    max_torch_batches: int = Field(default=20, ge=1)


class Budget(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    default: Literal["full", "fast"] = "full"
    fast: FastBudget = FastBudget()
