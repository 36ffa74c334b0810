"""What every check kind shares: the context checks run in, the verdict they return, the base
class of a kind, and what the run's facts say about a model."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

from grader.environment.failures import NOT_VERIFIED, EnvironmentFailure
from grader.facts import Evaluation, Facts, Fit, Model
from grader.models import Evidence, StaticModel

HELD_OUT_OVERLAP = 0.05


@dataclass
class CheckContext:
    facts: Facts
    evidence: Evidence
    verified_cells: frozenset[int] = frozenset()
    failed_cells: frozenset[int] = frozenset()
    saved_outputs_only: bool = False
    fast_run: bool = False  # the facts come from a run under the fast budget
    environment: dict[int, EnvironmentFailure] = field(default_factory=dict)  # cells the grading environment stopped
    chosen: dict[str, list[Model]] = field(default_factory=dict)
    chosen_static: dict[str, list[StaticModel]] = field(default_factory=dict)

    @property
    def submitted_outputs(self) -> tuple[tuple[int, str], ...]:
        """The outputs the student's notebook was submitted with: kept aside when it ran, its outputs when it did not."""
        return self.evidence.outputs if self.saved_outputs_only else self.evidence.saved_outputs


@dataclass(frozen=True)
class Verdict:
    passed: bool
    evidence: list[str]
    credit: float = 1.0
    source: str = "runtime"


class CheckKind:
    """One kind of check: its verdict from what ran, and its verdict from the code alone.

    ``kind`` is the rubric's ``kind:`` (its params are ``grader.check_specs``' model of that name).
    ``static`` runs only when the run did not pass the check: credit for code that was written but
    not shown to run, or None when there is nothing to credit.
    """

    kind: ClassVar[str]

    def run(self, check, context: CheckContext) -> Verdict:
        raise NotImplementedError

    def static(self, check, context: CheckContext) -> Verdict | None:
        return None


def describe_model(model: Model) -> str:
    layers = " ".join(_describe_layer(layer) for layer in model.layers) or "no layers recorded"
    name = model.variable or model.name or f"model {model.id}"
    return f"{name}: {layers}"


def _describe_layer(layer) -> str:
    if layer.rate is not None:
        return f"{layer.cls}({layer.rate:g})"
    if layer.units is not None:
        return f"{layer.cls}({layer.units})" + (" +reg" if layer.regularized else "")
    return layer.cls


def fits_of(facts: Facts, model: Model) -> list[Fit]:
    return [fit for fit in facts.fits if fit.model == model.id]


def evaluations_of(facts: Facts, model: Model) -> list[Evaluation]:
    return [e for e in facts.evaluations if e.model == model.id]


def training_summary(facts: Facts, model: Model) -> str:
    fits = fits_of(facts, model)
    epochs = sum(f.epochs_run for f in fits)
    samples = max((f.samples or 0 for f in fits), default=0)
    text = f"trained {epochs} epoch{'s' if epochs != 1 else ''}"
    if samples:
        text += f" on {samples:,} samples"
    if any(f.budgeted for f in fits):
        text += " (budgeted run)"
    for evaluation in held_out(facts, model)[:1]:
        size = f"{evaluation.samples:,} " if evaluation.samples else ""
        text += f", evaluated on {size}held-out samples ({metrics_text(evaluation)})"
    return text


def held_out(facts: Facts, model: Model) -> list[Evaluation]:
    """Evaluations on samples the model was not trained on.

    Either few of the evaluated rows occur in its training rows, or the evaluated array is the
    dataset's own test split while the model never trained on that split (a data file whose test
    images also sit in its training images does not make the student's evaluation wrong).
    """
    trained_on_test = any(f.dataset_split == "test" for f in fits_of(facts, model))
    return [
        e
        for e in evaluations_of(facts, model)
        if (e.overlap_with_training is not None and e.overlap_with_training <= HELD_OUT_OVERLAP)
        or (e.dataset_split == "test" and not trained_on_test)
    ]


def held_out_of_run(facts: Facts, model: Model, run: Fit) -> list[Evaluation] | None:
    """The held-out evaluations that measured ``run``, one of the model's fits, as the probe links each
    evaluation to the run before it (one network trained in turn with SGD, Adam and RMSprop has a result
    for each); None when the facts link none (facts of an older grader)."""
    if all(e.after_fit is None for e in evaluations_of(facts, model)):
        return None
    position = next((index for index, fit in enumerate(facts.fits) if fit is run), None)
    return [e for e in held_out(facts, model) if e.after_fit == position]


def validated_on_held_out(fit: Fit) -> bool:
    """Keras measured the model every epoch on ``validation_data`` none of it was trained on and
    that is not rows kept back from a served dataset's training split (that is no test set)."""
    return (
        fit.validation == "data"
        and any(k.startswith("val_") for k in fit.history)
        and fit.validation_overlap_with_training is not None
        and fit.validation_overlap_with_training <= HELD_OUT_OVERLAP
        and fit.validation_dataset_split != "train"
    )


def validation_text(fit: Fit) -> str:
    """The last epoch's validation metrics of ``fit`` and how many samples they were measured on."""
    last = ", ".join(f"{k} {v[-1]:.4f}" for k, v in fit.history.items() if k.startswith("val_") and v)
    samples = fit.validation_data.shape[0] if fit.validation_data and fit.validation_data.shape else "?"
    return f"{samples} samples it was not trained on ({last} at the last epoch)"


def metrics_text(evaluation: Evaluation) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in evaluation.metrics.items()) or "no metrics returned"


def referenced_static_calls(
    check, context: CheckContext, methods: tuple[str, ...] = ("evaluate", "predict"), prefer=None
) -> tuple[list[StaticModel], list] | None:
    """The models the code defines for each of ``params.models`` (as the checks above chose them
    from the code) and the first call of ``methods`` on each (the first ``prefer`` accepts, if
    any); None if any is missing."""
    referenced = [context.chosen_static.get(ref, [])[:1] for ref in check.params.models]
    if not referenced or not all(referenced):
        return None
    static = context.evidence.static
    models = [group[0] for group in referenced]
    calls = []
    for model in models:
        found = [c for method in methods for c in static.calls_on(model.variable, method)]
        calls.append(next((c for c in found if prefer is None or prefer(c)), found[0] if found else None))
    if None in calls:
        return None
    return models, calls


def call_text(call, argument: bool = False) -> str:
    """A call as written: ``evaluate()`` (``evaluate(x_test)`` with its ``argument``); a fit's
    validation as ``fit() validated on x_test``."""
    if call.method == "validate":
        return f"fit() validated on {call.argument}"
    return f"{call.method}({call.argument if argument else ''})"


def not_shown_to_run(check, context: CheckContext, model: StaticModel, call) -> Verdict | None:
    if call.cell in context.verified_cells:
        return None
    if call.cell in context.environment:
        return environment_verdict(check, context, [model], [call])
    where = "did not run"
    if call.cell in context.failed_cells:
        where = "failed in the submitted notebook" if context.saved_outputs_only else "failed"
    if call.cell_type != "code":
        where = f"is in a {call.cell_type} cell, which never runs"
    return Verdict(
        False,
        [
            f"implemented but not shown to run: {model.variable} = {' '.join(model.layers)} (cell {model.cell}); "
            f"its {call_text(call)} in cell {call.cell} {where}"
        ],
        check.static_credit,
        "static",
    )


def saved_outputs_verdict(line: str) -> Verdict:
    """Under ``--no-run``, what the submitted notebook's saved outputs show earns the check, said unverified: the
    instructor chose to grade the notebook as submitted (where a run stops on the environment, the same outputs
    earn only the static share: the run could have shown more)."""
    return Verdict(True, [f"{line} (unverified: the notebook was not run)"], 1.0, "static")


def environment_verdict(check, context: CheckContext, models: list[StaticModel], calls: list) -> Verdict:
    """The code and the submitted notebook's saved outputs, read because the grading environment
    stopped the run: the check's static share, passed when the saved outputs show what it asks."""
    failure = next(context.environment[c.cell] for c in calls if c.cell in context.environment)
    if check.kind in ("trained_model_with_layers", "trained_model_without_layers"):
        shown = any(call.output_shows_training for call in calls)
        seen = "the saved outputs show it training" if shown else "the saved outputs do not show it training"
    elif check.kind == "evaluated_on_held_out_data":
        shown = all(held_out_shown(context, c, check.params.validation_counts) for c in calls)
        seen = (
            "the saved outputs show results on held-out data"
            if shown
            else "the saved outputs do not show results on held-out data"
        )
    else:
        shown = all(number_shown(context, c.cell, saved=True) for c in calls)
        seen = "the saved outputs show the results" if shown else "the saved outputs do not show the results"
    code = "; ".join(
        f"{m.variable} = {' '.join(m.layers) or 'a model'} (cell {m.cell}), {call_text(c, argument=True)} in cell {c.cell}"
        for m, c in zip(models, calls)
    )
    return Verdict(shown, [f"{NOT_VERIFIED} (cell {failure.cell}: {failure.error[:160]}); from the code: {code}; {seen}"],
                   check.static_credit, "static")  # fmt: skip


def held_out_call(context: CheckContext, call, validation: bool) -> bool:
    """The data of an evaluate()/predict() or a fit's validation looks held out, read from code as the
    run decides it: its name says so, and the model was not fit on it (a person confirms it)."""
    trained_on = {c.argument for c in context.evidence.static.calls_on(call.variable, "fit")}
    return _looks_held_out(call.argument, validation) and call.argument not in trained_on


def held_out_shown(context: CheckContext, call, validation: bool) -> bool:
    """The submitted notebook's saved outputs show the results of ``call`` on held-out data: a metric
    printed at or after it, or a fit's validation metrics (``val_accuracy: 0.97``) in its log."""
    if not held_out_call(context, call, validation):
        return False
    if call.method != "validate":
        return number_shown(context, call.cell, saved=True)
    return any(index == call.cell and VALIDATION_METRIC.search(text) for index, text in context.submitted_outputs)


def _looks_held_out(argument: str, validation: bool) -> bool:
    """The data's name says it is held out (read from code: a person confirms it)."""
    return bool(re.search(r"test|hold_?out|held" + (r"|val" if validation else ""), argument, re.IGNORECASE))


METRIC_NUMBER = re.compile(r"(?<![\d.])0\.\d{2,}|\b\d{1,2}\.\d{1,2}\s?%")
VALIDATION_METRIC = re.compile(r"\bval_\w+['\"]?\s*[:=]\s*\[?\s*\d")
PROGRESS_LOG = re.compile(r"Epoch \d+|step\b|━|\[=+|\d+/\d+ \[")


def number_shown(context: CheckContext, cell: int, saved: bool = False) -> bool:
    """A metric-like number printed at or after ``cell``, not counting training progress logs
    (``saved``: in the submitted notebook's outputs rather than our run's)."""
    for index, text in context.submitted_outputs if saved else context.evidence.outputs:
        if index >= cell and any(
            METRIC_NUMBER.search(line) for line in text.splitlines() if not PROGRESS_LOG.search(line)
        ):
            return True
    return False
