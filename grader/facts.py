"""What the probe saw inside the kernel, as a validated record.

The kernel is untrusted: its report is parsed as JSON, size-limited and checked against this
schema. Anything else is an error for that submission, never a crash or free points.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MAX_FACTS_BYTES = 4_000_000


class FactsError(ValueError):
    pass


class Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Layer(Record):
    cls: str = Field(max_length=200)
    units: int | None = None
    rate: float | None = None
    regularized: bool = False
    activation: str | None = Field(default=None, max_length=100)


class Model(Record):
    id: int
    framework: Literal["keras", "torch"]
    cls: str = Field(max_length=200)
    name: str = Field(default="", max_length=200)
    variable: str | None = Field(default=None, max_length=200)
    layers: list[Layer] = Field(default=[], max_length=2000)
    params: int | None = None


class DataRef(Record):
    """An array the probe fingerprinted; overlaps are measured by hashing sampled rows."""

    id: str = Field(max_length=40)
    shape: list[int] = Field(default=[], max_length=10)
    dtype: str = Field(default="", max_length=40)
    kind: Literal["array", "dataset", "generator", "tensor", "unknown"] = "array"


class Fit(Record):
    model: int
    cell: int | None = None
    epochs_requested: int | None = None
    epochs_run: int = 0
    samples: int | None = None
    steps: int | None = None
    data: DataRef | None = None
    validation: Literal["split", "data", "none"] = "none"
    validation_data: DataRef | None = None
    history: dict[str, list[float]] = Field(default={}, max_length=50)
    dataset_split: Literal["train", "test"] | None = None
    budgeted: bool = False
    error: str | None = Field(default=None, max_length=2000)


class Evaluation(Record):
    model: int
    cell: int | None = None
    kind: Literal["evaluate", "predict", "eval_forward"] = "evaluate"
    samples: int | None = None
    data: DataRef | None = None
    overlap_with_training: float | None = Field(default=None, ge=0, le=1)
    overlap_with_validation: float | None = Field(default=None, ge=0, le=1)
    metrics: dict[str, float] = Field(default={}, max_length=50)
    dataset_split: Literal["train", "test"] | None = None
    budgeted: bool = False


class Dataset(Record):
    name: str = Field(max_length=100)
    source: str = Field(max_length=500)
    train_samples: int | None = None
    test_samples: int | None = None
    test_in_train: float | None = Field(default=None, ge=0, le=1)


class Facts(Record):
    schema_version: Literal[1] = 1
    models: list[Model] = Field(default=[], max_length=500)
    fits: list[Fit] = Field(default=[], max_length=2000)
    evaluations: list[Evaluation] = Field(default=[], max_length=5000)
    datasets: list[Dataset] = Field(default=[], max_length=50)
    budget: dict[str, float] = {}
    warnings: list[str] = Field(default=[], max_length=200)

    def model(self, model_id: int) -> Model | None:
        return next((m for m in self.models if m.id == model_id), None)


def parse_facts(payload: str | bytes) -> Facts:
    if len(payload) > MAX_FACTS_BYTES:
        raise FactsError(f"the kernel's facts report is {len(payload):,} bytes, over the {MAX_FACTS_BYTES:,} limit")
    try:
        return Facts.model_validate(json.loads(payload))
    except json.JSONDecodeError as exc:
        raise FactsError(f"the kernel's facts report is not JSON: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise FactsError(f"the kernel's facts report does not fit the schema at {where}: {first['msg']}") from None
