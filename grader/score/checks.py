"""Code checks: verdicts about what really ran, decided outside the kernel from its facts.

Each check kind is a general rule with parameters from the rubric ("a model with layers X was
trained"); the Dropout checks of the regularization homework are instances of them. Checks can
refer to the models an earlier check chose (``compare_with``, ``models``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from dataclasses import dataclass, field
from typing import Callable

from grader.execute.facts import Evaluation, Facts, Fit, Model
from grader.extract.static import StaticModel
from grader.models import CheckGrade, Evidence, Execution
from grader.rubric import Check

HELD_OUT_OVERLAP = 0.05


@dataclass
class CheckContext:
    facts: Facts
    evidence: Evidence
    verified_cells: frozenset[int] = frozenset()
    failed_cells: frozenset[int] = frozenset()
    saved_outputs_only: bool = False
    chosen: dict[str, list[Model]] = field(default_factory=dict)
    chosen_static: dict[str, list[StaticModel]] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    passed: bool
    evidence: list[str]
    credit: float = 1.0
    source: str = "runtime"


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


def _fits(facts: Facts, model: Model) -> list[Fit]:
    return [fit for fit in facts.fits if fit.model == model.id]


def _evaluations(facts: Facts, model: Model) -> list[Evaluation]:
    return [e for e in facts.evaluations if e.model == model.id]


def _training_summary(facts: Facts, model: Model) -> str:
    fits = _fits(facts, model)
    epochs = sum(f.epochs_run for f in fits)
    samples = max((f.samples or 0 for f in fits), default=0)
    text = f"trained {epochs} epoch{'s' if epochs != 1 else ''}"
    if samples:
        text += f" on {samples:,} samples"
    if any(f.budgeted for f in fits):
        text += " (budgeted run)"
    held_out = _held_out(facts, model)
    for evaluation in held_out[:1]:
        size = f"{evaluation.samples:,} " if evaluation.samples else ""
        text += f", evaluated on {size}held-out samples ({_metrics(evaluation)})"
    return text


def _has_layer(model: Model, kinds: set[str], min_rate: float, max_rate: float) -> bool:
    return any(
        layer.cls in kinds and (layer.rate is None or min_rate < layer.rate < max_rate) for layer in model.layers
    )


def _trained(facts: Facts, model: Model, min_epochs: int) -> bool:
    return sum(f.epochs_run for f in _fits(facts, model)) >= min_epochs


def trained_model_with_layers(check: Check, context: CheckContext) -> tuple[bool, list[str]]:
    kinds = set(check.params.get("layers", []))
    min_epochs = int(check.params.get("min_epochs", 1))
    min_rate = float(check.params.get("min_rate", 0.0))
    max_rate = float(check.params.get("max_rate", 1.0))
    facts = context.facts
    with_layer = [m for m in facts.models if _has_layer(m, kinds, min_rate, max_rate)]
    trained = [m for m in with_layer if _trained(facts, m, min_epochs)]
    context.chosen[check.id] = trained
    if trained:
        return True, [f"{describe_model(m)}; {_training_summary(facts, m)}" for m in trained]
    evidence = []
    for model in with_layer:
        evidence.append(f"{describe_model(model)} was built but never trained ({min_epochs}+ epoch needed)")
    useless = [m for m in facts.models if any(l.cls in kinds and l.rate is not None and not (min_rate < l.rate < max_rate) for l in m.layers)]
    for model in useless:
        evidence.append(f"{describe_model(model)}: a rate outside ({min_rate:g}, {max_rate:g}) has no effect")
    if not evidence:
        evidence.extend(_defined_not_trained(check, context))
    if not evidence:
        names = ", ".join(sorted(kinds)[:4])
        evidence.append(f"no model containing {names} was trained in the run")
    return False, evidence


def _defined_not_trained(check: Check, context: CheckContext) -> list[str]:
    """Models the code defines (read from its syntax) that the run never trained."""
    return [
        f"{m.variable} = {' '.join(m.layers)} (cell {m.cell}) is defined but never trained"
        for m in _static_models(check, context)
        if not context.evidence.static.calls_on(m.variable, "fit")
    ]


def trained_model_without_layers(check: Check, context: CheckContext) -> tuple[bool, list[str]]:
    kinds = set(check.params.get("layers", []))
    min_epochs = int(check.params.get("min_epochs", 1))
    facts = context.facts
    without = [m for m in facts.models if m.layers and not any(l.cls in kinds for l in m.layers)]
    trained = [m for m in without if _trained(facts, m, min_epochs)]
    context.chosen[check.id] = trained
    if not trained:
        if without:
            return False, [f"{describe_model(m)} was built but never trained" for m in without]
        return False, ["no model without " + ", ".join(sorted(kinds)[:3]) + " was trained in the run"]
    evidence = [f"{describe_model(m)}; {_training_summary(facts, m)}" for m in trained]
    reference = context.chosen.get(str(check.params.get("compare_with", "")), [])
    if reference:
        evidence.append(_comparison_note(reference[0], trained, kinds))
    return True, evidence


def _comparison_note(reference: Model, candidates: list[Model], kinds: set[str]) -> str:
    stripped = [(l.cls, l.units, l.regularized) for l in reference.layers if l.cls not in kinds]
    for model in candidates:
        if [(l.cls, l.units, l.regularized) for l in model.layers] == stripped:
            return f"like-for-like: {describe_model(model).split(':')[0]} has the same layers as the dropout model minus dropout"
    model = candidates[0]
    differences = []
    if any(l.regularized for l in model.layers) and not any(l.regularized for l in reference.layers):
        differences.append("it adds weight regularization")
    if [l.units for l in model.layers if l.units] != [units for _, units, _ in stripped if units]:
        differences.append("its layer sizes differ")
    return "not a like-for-like comparison: " + ("; ".join(differences) or "its layers differ beyond the dropout layers")


def _held_out(facts: Facts, model: Model) -> list[Evaluation]:
    """Evaluations on samples the model was not trained on.

    Either few of the evaluated rows occur in its training rows, or the evaluated array is the
    dataset's own test split while the model never trained on that split (a data file whose test
    images also sit in its training images does not make the student's evaluation wrong).
    """
    trained_on_test = any(f.dataset_split == "test" for f in _fits(facts, model))
    return [
        e
        for e in _evaluations(facts, model)
        if (e.overlap_with_training is not None and e.overlap_with_training <= HELD_OUT_OVERLAP)
        or (e.dataset_split == "test" and not trained_on_test)
    ]


def evaluated_on_held_out_data(check: Check, context: CheckContext) -> tuple[bool, list[str]]:
    validation_counts = bool(check.params.get("validation_counts", False))
    facts = context.facts
    passed, evidence = True, []
    for check_id in check.params.get("models", []):
        models = context.chosen.get(check_id, [])
        if not models:
            passed = False
            evidence.append(f"{check_id}: no trained model to evaluate")
            continue
        found = None
        for model in models:
            held_out = _held_out(facts, model)
            if held_out:
                first = held_out[0]
                found = f"{check_id}: {model.variable or model.name} evaluated on {first.samples or '?'} samples it was not trained on ({_metrics(first)})"
                if (first.overlap_with_training or 0) > HELD_OUT_OVERLAP:
                    found += f"; it is the dataset's test split, though {first.overlap_with_training:.0%} of those images also occur in the data file's training images"
                break
            validated = [f for f in _fits(facts, model) if f.validation != "none" and any(k.startswith("val_") for k in f.history)]
            if validation_counts and validated:
                found = f"{check_id}: {model.variable or model.name} measured on validation data during training"
                break
        if found:
            evidence.append(found)
            continue
        passed = False
        seen = [e for m in models for e in _evaluations(facts, m)]
        if seen:
            worst = max((e.overlap_with_training or 0) for e in seen)
            evidence.append(f"{check_id}: evaluated only on data it was trained on ({worst:.0%} of the evaluated samples were training samples)")
        else:
            evidence.append(f"{check_id}: never evaluated with evaluate() or predict()")
    return passed, evidence


def _metrics(evaluation: Evaluation) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in evaluation.metrics.items()) or "no metrics returned"


def results_reported(check: Check, context: CheckContext) -> tuple[bool, list[str]]:
    facts = context.facts
    outputs = context.evidence.outputs
    passed, evidence = True, []
    for check_id in check.params.get("models", []):
        models = context.chosen.get(check_id, [])
        shown = None
        for model in models:
            for evaluation in _evaluations(facts, model):
                for name, value in evaluation.metrics.items():
                    cell = _printed(value, outputs, after=evaluation.cell, logged=_framework_cells(facts))
                    if cell is not None:
                        shown = f"{check_id}: {name} {value:.4f} appears in the output of cell {cell}"
                        break
                if shown:
                    break
            if shown:
                break
        if shown is None and models and _history_plot(context, models):
            shown = f"{check_id}: its training history is plotted"
        if shown is None and (cell := _history_shown(context, models)) is not None:
            shown = f"{check_id}: its final training-history values are shown in the output of cell {cell}"
        if shown is None:
            unmeasured = [e for m in models for e in _evaluations(facts, m) if not e.metrics and e.cell is not None]
            cell = next((e.cell for e in unmeasured if _number_shown(context, e.cell)), None)
            if cell is not None:
                shown = f"{check_id}: a result is printed after its evaluation in cell {cell} (its metric is computed by the student's code)"
        if shown:
            evidence.append(shown)
        else:
            passed = False
            evidence.append(f"{check_id}: no result of this model appears in the notebook's outputs")
    return passed, evidence


def _printed(
    value: float, outputs: tuple[tuple[int, str], ...], after: int | None, logged: frozenset[int] = frozenset()
) -> int | None:
    """The first cell at or after ``after`` whose output shows ``value`` in a usual form, where
    that form is not one of so many numbers that some would match by chance (``_crowded``).
    ``logged``: cells where the framework trained or evaluated (their progress logs are its own)."""
    if value in (0.0, 1.0):
        return None
    shown = [(cell, text) for cell, text in outputs if after is None or cell >= after]
    for form, decimals, scale in _forms(value):
        pattern = re.compile(r"(?<![\d.])" + re.escape(form) + r"(?!\d)")
        cell = next((cell for cell, text in shown if pattern.search(text)), None)
        if cell is not None and (decimals is None or not _crowded(shown, decimals, scale, logged)):
            return cell
    return None


def _forms(value: float) -> list[tuple[str, int | None, int]]:
    """(text, decimals shown or None for every digit, scale): how a metric is usually printed."""
    digits = len(repr(value).partition(".")[2])  # a short repr (0.9123) is as easy to hit as .4f
    forms = [(repr(value), digits if 0 < digits <= 6 else None, 1)]
    forms += [(f"{value:.4f}", 4, 1), (f"{value:.3f}", 3, 1), (f"{value:.2f}", 2, 1)]
    forms += [(f"{value * 100:.2f}", 2, 100), (f"{value * 100:.1f}", 1, 100)]
    return forms


CROWDED = 0.05  # share of the possible values of a form printed in the outputs: past it, a match is luck
_DECIMAL = re.compile(r"(?<![\d.])(\d{1,3})\.(\d+)(?![\d.])")


def _crowded(outputs: list[tuple[int, str]], decimals: int, scale: int, logged: frozenset[int]) -> bool:
    """Whether the outputs print so many distinct numbers of this precision between 0 and
    ``scale`` that any metric would appear among them: a cell printing 0.0000 to 0.9999 shows
    every accuracy. The progress logs of cells where the framework trained or evaluated do not
    count (they are its own, one line an epoch); lines that only look like them elsewhere do."""
    seen: set[int] = set()
    possible = scale * 10**decimals
    for cell, text in outputs:
        for line in text.splitlines():
            if cell in logged and _PROGRESS_LOG.search(line):
                continue
            for whole, fraction in _DECIMAL.findall(line):
                if len(fraction) >= decimals and int(whole) <= scale:
                    seen.add(int(whole) * 10**decimals + int(fraction[:decimals]))
            if len(seen) > CROWDED * possible:
                return True
    return False


def _framework_cells(facts: Facts) -> frozenset[int]:
    """Cells where the probe saw a fit or an evaluation: the ones whose progress logs are the framework's."""
    return frozenset(r.cell for r in (*facts.fits, *facts.evaluations) if r.cell is not None)


def _history_plot(context: CheckContext, models: list[Model]) -> bool:
    """A figure drawn after the model trained, from its training history (or a table made of it)."""
    fit_cells = [f.cell for m in models for f in _fits(context.facts, m) if f.cell is not None]
    if not fit_cells:
        return False
    code = dict(context.evidence.code_cells)
    names = ["history", *_names_from_history(code.values())]
    return any(
        cell > min(fit_cells) and any(re.search(rf"\b{re.escape(n)}\b", code.get(cell, "")) for n in names)
        for cell in context.evidence.images
    )


def _names_from_history(sources) -> set[str]:
    """Variables assigned from a training history: ``frame = pd.DataFrame(history.history)``."""
    found = set()
    for source in sources:
        for match in re.finditer(r"^\s*([A-Za-z_]\w*)\s*=\s*(.+)$", source, re.MULTILINE):
            if "history" in match.group(2):
                found.add(match.group(1))
    return found


def _history_shown(context: CheckContext, models: list[Model]) -> int | None:
    """The cell whose output shows a model's final training-history values (a printed table)."""
    for model in models:
        for fit in _fits(context.facts, model):
            finals = [values[-1] for values in fit.history.values() if values]
            if not finals or fit.cell is None:
                continue
            logged = _framework_cells(context.facts)
            cells = [_printed(value, context.evidence.outputs, after=fit.cell + 1, logged=logged) for value in finals]
            if all(cell is not None for cell in cells):
                return max(cells)
    return None


def python_check(check: Check, context: CheckContext) -> tuple[bool, list[str]]:
    """An instructor's own rule: ``function(facts, evidence) -> bool | (bool, [str])`` (docs/checks.md)."""
    function = _instructor_function(str(check.params["function"]))
    evidence = {
        "outputs": dict(context.evidence.outputs),
        "code_cells": dict(context.evidence.code_cells),
        "answers": {qid: a.text for qid, a in context.evidence.answers.items()},
        "params": {k: v for k, v in check.params.items() if k != "function"},
    }
    try:
        result = function(context.facts.model_dump(mode="json"), evidence)
    except Exception as exc:  # the instructor's code: report, do not crash the batch
        return False, [f"the check's function raised {type(exc).__name__}: {exc}"]
    if isinstance(result, tuple):
        passed, lines = result
        return bool(passed), [str(line) for line in lines]
    return bool(result), []


@lru_cache(maxsize=32)
def _instructor_function(target: str) -> Callable:
    import importlib.util

    file, _, name = target.rpartition(":")
    spec = importlib.util.spec_from_file_location(f"grader_instructor_checks_{abs(hash(file))}", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


CHECKS: dict[str, Callable[[Check, CheckContext], tuple[bool, list[str]]]] = {
    "python": python_check,
    "trained_model_with_layers": trained_model_with_layers,
    "trained_model_without_layers": trained_model_without_layers,
    "evaluated_on_held_out_data": evaluated_on_held_out_data,
    "results_reported": results_reported,
}


def _static_models(check: Check, context: CheckContext) -> list[StaticModel]:
    kinds = set(check.params.get("layers", []))
    min_rate = float(check.params.get("min_rate", 0.0))
    max_rate = float(check.params.get("max_rate", 1.0))
    models = context.evidence.static.models
    if check.kind == "trained_model_with_layers":
        return [
            m for m in models
            if any(l in kinds and (r is None or min_rate < r < max_rate) for l, r in zip(m.layers, m.rates))
        ]
    return [m for m in models if m.layers and not any(l in kinds for l in m.layers)]


def static_fallback(check: Check, context: CheckContext) -> Verdict | None:
    """Credit for code that was written but not shown to run; None when there is nothing to credit.

    Code whose cells ran without an error gets nothing here: what the run saw is the truth.
    With --no-run, training or results visible in the saved outputs pass, labelled unverified.
    """
    static = context.evidence.static
    if check.kind in ("trained_model_with_layers", "trained_model_without_layers"):
        fitted = [(m, c) for m in _static_models(check, context) for c in static.calls_on(m.variable, "fit")]
        context.chosen_static[check.id] = [m for m, _ in fitted]
        if not fitted:
            return None
        model, call = fitted[0]
        if context.saved_outputs_only and any(c.output_shows_training for _, c in fitted):
            return Verdict(True, [f"{model.variable}: {' '.join(model.layers)} (cell {model.cell}); the saved outputs show it training (unverified: the notebook was not run)"], 1.0, "static")
        return _not_shown_to_run(check, context, model, call)
    if check.kind not in ("evaluated_on_held_out_data", "results_reported"):
        return None
    referenced = [context.chosen_static.get(ref, [])[:1] for ref in check.params.get("models", [])]
    if not referenced or not all(referenced):
        return None
    models = [group[0] for group in referenced]
    calls = [next(iter(static.calls_on(m.variable, "evaluate") + static.calls_on(m.variable, "predict")), None) for m in models]
    if None in calls:
        return None
    if check.kind == "results_reported":
        if context.saved_outputs_only and all(_number_shown(context, call.cell) for call in calls):
            return Verdict(True, [f"results are printed after cell {max(c.cell for c in calls)} (unverified: the notebook was not run)"], 1.0, "static")
        return None
    return _not_shown_to_run(check, context, models[0], calls[0])


def _not_shown_to_run(check: Check, context: CheckContext, model: StaticModel, call) -> Verdict | None:
    if call.cell in context.verified_cells:
        return None
    where = "did not run" if context.saved_outputs_only or call.cell not in context.failed_cells else "failed"
    return Verdict(
        False,
        [f"implemented but not shown to run: {model.variable} = {' '.join(model.layers)} (cell {model.cell}); "
         f"its {call.method}() in cell {call.cell} {where}"],
        check.static_credit,
        "static",
    )


_METRIC_NUMBER = re.compile(r"(?<![\d.])0\.\d{2,}|\b\d{1,2}\.\d{1,2}\s?%")


_PROGRESS_LOG = re.compile(r"Epoch \d+|step\b|━|\[=+|\d+/\d+ \[")


def _number_shown(context: CheckContext, cell: int) -> bool:
    """A metric-like number printed at or after ``cell``, not counting training progress logs."""
    for index, text in context.evidence.outputs:
        if index >= cell and any(
            _METRIC_NUMBER.search(line) for line in text.splitlines() if not _PROGRESS_LOG.search(line)
        ):
            return True
    return False


def verified_cells(execution: Execution) -> frozenset[int]:
    """Code cells our run executed without an error."""
    if execution.mode == "no-run":
        return frozenset()
    failed = {e.cell for e in execution.cell_errors}
    return frozenset(
        index
        for index, cell in enumerate(execution.notebook.get("cells", []))
        if cell.get("cell_type") == "code" and cell.get("execution_count") is not None and index not in failed
    )


def run_checks(checks: list[Check], facts: Facts, evidence: Evidence, execution: Execution | None = None) -> tuple[CheckGrade, ...]:
    context = CheckContext(
        facts,
        evidence,
        verified_cells=verified_cells(execution) if execution else frozenset(),
        failed_cells=frozenset(e.cell for e in execution.cell_errors) if execution else frozenset(),
        saved_outputs_only=bool(execution and execution.mode == "no-run"),
    )
    grades = []
    for check in checks:
        passed, lines = CHECKS[check.kind](check, context)
        verdict = Verdict(passed, lines)
        if not passed:
            verdict = static_fallback(check, context) or verdict
        grades.append(
            CheckGrade(
                id=check.id,
                passed=verdict.passed,
                score=round(check.points * verdict.credit, 2) if verdict.passed or verdict.source == "static" else 0.0,
                max_score=check.points,
                evidence=tuple(verdict.evidence),
                description=check.description,
                hint="" if verdict.passed else check.hint,
                source=verdict.source,
            )
        )
    return tuple(grades)
