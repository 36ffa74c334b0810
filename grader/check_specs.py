"""The rubric's code checks, one typed record per kind: what a rubric may say about each.

Each kind has a ``Params`` model; ``Check`` is their union, told apart by ``kind``, so a rubric
is validated when it loads and a misspelt param (``min_epoch``) is an error naming it. What a
kind decides, from the run and from the code, is in ``grader/score/checks/``, one class per kind
with the same ``kind`` name (a test keeps the two lists equal).
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import ConfigDict, Field, model_validator

from grader.schema import Identifier, Strict

LayerName = Annotated[str, Field(min_length=1, max_length=100)]


class CheckSpec(Strict):
    """What every check has: its id, points, words for people, and its static credit."""

    id: Identifier
    points: float = Field(gt=0)
    description: str = ""
    static_credit: float = Field(default=0.5, ge=0, le=1)
    hint: str = ""

    def references(self) -> list[tuple[str, str]]:
        """(param, check id) of each earlier check whose chosen models this check uses."""
        return []


class LayersParams(Strict):
    """Models told apart by layer classes (``Dropout``, ``BatchNormalization``...)."""

    layers: list[LayerName] = Field(min_length=1)
    min_epochs: int = Field(default=1, ge=0)


class WithLayersParams(LayersParams):
    # A layer with a rate (dropout) counts only with min_rate < rate < max_rate.
    min_rate: float = Field(default=0.0, ge=0, le=1)
    max_rate: float = Field(default=1.0, ge=0, le=1)


class WithoutLayersParams(LayersParams):
    compare_with: Identifier | None = None  # the check whose model this one should be the same as, minus the layers


class ModelsParams(Strict):
    models: list[Identifier] = []  # checks whose chosen models this one looks at (none: nothing to fail)


class HeldOutParams(ModelsParams):
    validation_counts: bool = False  # measuring on validation data during training is enough


class VariantsParams(Strict):
    """Variants of one model differing only in ``vary``: the optimizer's class (``values: [SGD, Adam]``),
    a layer class or ``none`` (``[Dropout, none]``), the weight regularizer (``[l2, none]``) or the
    learning rate (``[0.1, 0.01]``)."""

    vary: Literal["optimizer", "layers", "regularizer", "learning_rate"]
    values: list[float | Annotated[str, Field(min_length=1, max_length=100)]] = Field(min_length=2)
    min_distinct: int = Field(default=2, ge=2)
    min_epochs: int = Field(default=1, ge=0)
    each_evaluated_on_held_out: bool = True
    each_reported: bool = True
    fresh_weights: bool = False  # each variant trained from new weights, not on from another variant's

    @model_validator(mode="after")
    def _enough_values(self):
        if self.min_distinct > len(self.values):
            raise ValueError(f"min_distinct is {self.min_distinct} but only {len(self.values)} values are listed")
        if self.vary == "learning_rate" and not all(isinstance(v, float) for v in self.values):
            raise ValueError("vary: learning_rate takes numbers as values")
        return self


class PythonParams(Strict):
    """``function: FILE.py:NAME`` (relative to the rubric); any other params go to the function."""

    model_config = ConfigDict(extra="allow", frozen=True)
    function: str = Field(min_length=1)


class TrainedModelWithLayers(CheckSpec):
    kind: Literal["trained_model_with_layers"]
    params: WithLayersParams


class TrainedModelWithoutLayers(CheckSpec):
    kind: Literal["trained_model_without_layers"]
    params: WithoutLayersParams

    def references(self) -> list[tuple[str, str]]:
        return [("compare_with", self.params.compare_with)] if self.params.compare_with else []


class _UsesModels(CheckSpec):
    def references(self) -> list[tuple[str, str]]:
        return [(f"models[{index}]", model) for index, model in enumerate(self.params.models)]


class EvaluatedOnHeldOutData(_UsesModels):
    kind: Literal["evaluated_on_held_out_data"]
    params: HeldOutParams = HeldOutParams()


class ResultsReported(_UsesModels):
    kind: Literal["results_reported"]
    params: ModelsParams = ModelsParams()


class ComparedVariants(CheckSpec):
    kind: Literal["compared_variants"]
    params: VariantsParams


class PythonCheck(CheckSpec):
    kind: Literal["python"]
    params: PythonParams


CHECK_SPECS = (
    TrainedModelWithLayers,
    TrainedModelWithoutLayers,
    EvaluatedOnHeldOutData,
    ResultsReported,
    ComparedVariants,
    PythonCheck,
)
Check = Annotated[Union[CHECK_SPECS], Field(discriminator="kind")]
CHECK_KINDS = tuple(spec.model_fields["kind"].annotation.__args__[0] for spec in CHECK_SPECS)


def check_references_are_earlier(checks: list) -> None:
    """A check may use only the models of a check above it (they are chosen in order)."""
    seen: set[str] = set()
    for index, check in enumerate(checks):
        for param, reference in check.references():
            if reference not in seen:
                where = "a later check" if any(c.id == reference for c in checks) else "no check"
                raise ValueError(
                    f"checks[{index}].params.{param}: {reference!r} names {where}; name a check above this one"
                )
        seen.add(check.id)
