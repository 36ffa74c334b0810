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
    module: str | None = Field(default=None, max_length=300)  # the class's module: a framework's, or the notebook's own
    units: int | None = None
    rate: float | None = None
    regularized: bool = False
    regularizer: str | None = Field(default=None, max_length=100)  # its class (L2, L1, L1L2) when regularized
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


class Optimizer(Record):
    cls: str = Field(max_length=200)
    learning_rate: float | None = None
    momentum: float | None = None


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
    validation_overlap_with_training: float | None = Field(default=None, ge=0, le=1)  # of validation_data, trained on
    validation_dataset_split: Literal["train", "test"] | None = None  # the served split validation_data is from
    history: dict[str, list[float]] = Field(default={}, max_length=50)
    dataset_split: Literal["train", "test"] | None = None
    dataset: str | None = Field(default=None, max_length=100)  # the served dataset its training rows are from
    budgeted: bool = False
    error: str | None = Field(default=None, max_length=2000)
    weights_changed: bool | None = None  # the weights' hash before and after the fit differ (None: not measured)
    optimizer: Optimizer | None = None  # what trained it (Keras: the compiled optimizer; PyTorch: the stepping one)
    # The weights it began with were not those the model's previous fit left (re-initialised or loaded);
    # None: the model's first fit, or not measured.
    fresh_start: bool | None = None


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
    # A budgeted PyTorch loop evaluated ``samples`` rows of a DataLoader whose dataset holds this many.
    dataset_samples: int | None = None
    after_fit: int | None = Field(default=None, ge=0)  # index in the facts' fits of the run it measured


class Dataset(Record):
    name: str = Field(max_length=100)
    source: str = Field(max_length=500)
    train_samples: int | None = None
    test_samples: int | None = None
    test_in_train: float | None = Field(default=None, ge=0, le=1)


class VerifiedLayer(Record):
    path: str = Field(max_length=300)  # module and qualified name of the loaded layer's class
    rate: float | None = None
    units: int | None = None


LEARNED = 0.1  # share of the way from chance to perfect a model must get to show it learned (MNIST: 0.22;
# an untrained model scores about the majority-class rate, 0.136, give or take 0.01 on 2,000 samples)


class VerifiedModel(Record):
    """One model as a clean process found it: loaded from the file the probe saved, or why not."""

    model: int
    loaded: bool
    reason: str | None = Field(default=None, max_length=600)  # why it could not be loaded or measured
    layers: list[VerifiedLayer] = Field(default=[], max_length=500)
    accuracy: float | None = None  # on the held-out split the grader served
    samples: int = 0
    chance: float | None = None  # the majority class's share of those samples

    def near_chance(self) -> bool:
        """Measured, and too close to the majority-class rate to show that it learned."""
        if self.accuracy is None or self.chance is None:
            return False
        return self.accuracy < self.chance + LEARNED * (1 - self.chance)


class Verification(Record):
    """What was checked outside the kernel (``verify.py``); set by the runner, never by the kernel."""

    models: list[VerifiedModel] = []
    note: str | None = Field(default=None, max_length=600)  # why nothing could be verified, when so
    seconds: float = 0.0

    def of(self, model_id: int) -> VerifiedModel | None:
        return next((m for m in self.models if m.model == model_id), None)


class Facts(Record):
    schema_version: Literal[1] = 1
    models: list[Model] = Field(default=[], max_length=500)
    fits: list[Fit] = Field(default=[], max_length=2000)
    evaluations: list[Evaluation] = Field(default=[], max_length=5000)
    datasets: list[Dataset] = Field(default=[], max_length=50)
    budget: dict[str, float] = {}
    warnings: list[str] = Field(default=[], max_length=200)
    verification: Verification | None = None  # the runner's, from outside the kernel (None: not attempted)
    translations: list[str] = Field(default=[], max_length=100)  # removed APIs the probe ran as today's (compat.py)

    def unlearned_under_budget(self) -> list[Model]:
        """Models the verifier measured near chance after the fast budget cut their training: a
        slow learner has not learned yet at that point, so only a full run can tell."""
        if self.verification is None:
            return []
        cut = {fit.model for fit in self.fits if fit.budgeted}
        return [
            model
            for model in self.models
            if model.id in cut and (found := self.verification.of(model.id)) is not None and found.near_chance()
        ]

    def model(self, model_id: int) -> Model | None:
        return next((m for m in self.models if m.id == model_id), None)


def parse_facts(payload: str | bytes) -> Facts:
    if len(payload) > MAX_FACTS_BYTES:
        raise FactsError(f"the kernel's facts report is {len(payload):,} bytes, over the {MAX_FACTS_BYTES:,} limit")
    try:
        data = json.loads(payload)
        if isinstance(data, dict):
            data.pop("verification", None)  # only the runner says what was verified
        return Facts.model_validate(data)
    except json.JSONDecodeError as exc:
        raise FactsError(f"the kernel's facts report is not JSON: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise FactsError(f"the kernel's facts report does not fit the schema at {where}: {first['msg']}") from None
