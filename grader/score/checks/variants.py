"""``compared_variants``: several variants of one model were trained and compared, differing only
in what the homework asks to vary: the optimizer, a layer (Dropout or none), the weight
regularizer, or the learning rate.

A variant is one training run (a Keras ``fit``; a PyTorch model stepped in one cell by one kind
of optimizer, so a loop that trains one network with each optimizer in turn is one run each). The check
passes when at least ``min_distinct`` of ``values`` were each trained on models of one
architecture (apart from what varies), and, as the params ask, each from fresh weights, each
evaluated on held-out data and each result reported."""

from __future__ import annotations

import math

from grader.check_specs import ComparedVariants as VariantsSpec
from grader.facts import Fit, Model
from grader.score.checks.base import (
    CheckContext,
    CheckKind,
    Verdict,
    describe_model,
    environment_verdict,
    fits_of,
    held_out,
    held_out_of_run,
    metrics_text,
    validated_on_held_out,
    validation_text,
)
from grader.score.checks.reported import reported_line

NONE = "none"


class ComparedVariants(CheckKind):
    kind = "compared_variants"

    def run(self, check: VariantsSpec, context: CheckContext) -> Verdict:
        params = check.params
        facts = context.facts
        groups: dict[tuple, dict[str, list[str]]] = {}  # architecture -> value -> problems of its best run
        lines: dict[tuple, dict[str, str]] = {}
        for model in facts.models:
            for index, fit in enumerate(fits_of(facts, model)):
                value = _value_of(params, model, fit)
                if value is None or fit.epochs_run < params.min_epochs:
                    continue
                problems, line = _judge(check, context, model, fit, index, value)
                shape = _architecture(params, model)
                best = groups.setdefault(shape, {}).get(value)
                if best is None or len(problems) < len(best):
                    groups[shape][value] = problems
                    lines.setdefault(shape, {})[value] = line
        if not groups and context.saved_outputs_only:
            return Verdict(False, [f"not judged: the notebook was not run (--no-run); which {params.vary} each "
                                   "training run used, and the weights it began from, need a run"])  # fmt: skip
        if not groups:
            line = f"no model was trained with any of {', '.join(map(str, params.values))} ({params.vary})"
            failed = [c.cell for c in _fit_calls(context) if c.cell in context.failed_cells]
            if failed:
                line += f"; the code trains in cells {', '.join(map(str, failed))}, which failed with an error when run"
            return Verdict(False, [line])
        shape = max(groups, key=lambda s: (sum(not p for p in groups[s].values()), len(groups[s])))
        good = [value for value, problems in groups[shape].items() if not problems]
        evidence = [lines[shape][value] for value in groups[shape]]
        missing = [str(v) for v in params.values if _key(params, v) not in groups[shape]]
        if missing:
            evidence.append(f"not trained on this architecture: {', '.join(missing)}")
        if len(groups) > 1:
            evidence.append(
                f"{len(groups) - 1} other architecture(s) trained too: variants are compared only within one"
            )
        passed = len(good) >= params.min_distinct
        evidence.insert(
            0,
            f"{len(good)} of {len(params.values)} {params.vary} variants compared as asked (need {params.min_distinct})",
        )
        return Verdict(passed, evidence)

    def static(self, check: VariantsSpec, context: CheckContext) -> Verdict | None:
        """When the grading environment stopped the cells that train: the code and the submitted
        notebook's saved outputs, at the check's static share, for a person to confirm (not the student's
        failure)."""
        static = context.evidence.static
        pairs = [
            (model, call) for call in _fit_calls(context) if (model := _defined_before(static.models, call)) is not None
        ]
        recorded = {fit.cell for fit in context.facts.fits}  # runs the run saw are judged by it
        if not any(call.cell in context.environment and call.cell not in recorded for _, call in pairs):
            return None
        return environment_verdict(check, context, [m for m, _ in pairs], [c for _, c in pairs])


def _fit_calls(context: CheckContext) -> list:
    return [c for c in context.evidence.static.calls if c.method == "fit" and c.cell_type == "code"]


def _defined_before(models, call):
    """The model the code last defined under the name ``call`` trains, at or before its cell."""
    return max(
        (m for m in models if m.variable == call.variable and m.cell <= call.cell), key=lambda m: m.cell, default=None
    )


def _key(params, value) -> str:
    """How a value of ``values`` is compared: class names case-insensitively, rates as numbers."""
    if params.vary == "learning_rate":
        return f"{float(value):g}"
    return str(value).casefold()


def _value_of(params, model: Model, fit: Fit) -> str | None:
    """The value of what varies in this run, as ``_key`` writes it, or None when it is not one of ``values``."""
    wanted = {_key(params, v) for v in params.values}
    if params.vary in ("optimizer", "learning_rate"):
        if fit.optimizer is None:
            return None
        if params.vary == "optimizer":
            found = fit.optimizer.cls.casefold()
        else:
            rate = fit.optimizer.learning_rate
            found = next((w for w in wanted if rate is not None and math.isclose(float(w), rate, rel_tol=1e-6)), None)
    elif params.vary == "layers":
        present = {layer.cls.casefold() for layer in model.layers if not _inert(layer)}
        named = present & (wanted - {NONE})
        found = next(iter(named)) if len(named) == 1 else (NONE if not named else None)
    else:
        kinds = {(layer.regularizer or "regularized").casefold() for layer in model.layers if layer.regularized}
        found = next(iter(kinds)) if len(kinds) == 1 else (NONE if not kinds else None)
    return found if found in wanted else None


def _inert(layer) -> bool:
    return layer.rate is not None and layer.rate <= 0


def _architecture(params, model: Model) -> tuple:
    """The model's layers as compared between variants: without what varies."""
    varied = {_key(params, v) for v in params.values} if params.vary == "layers" else set()
    return tuple(
        (layer.cls, layer.units) + (() if params.vary == "regularizer" else (layer.regularized,))
        for layer in model.layers
        if layer.cls.casefold() not in varied and not _inert(layer)
    )


def _run_evaluations(facts, model: Model, fit: Fit) -> list:
    """The held-out evaluations of this run; without the probe's links, those in its cell or later."""
    linked = held_out_of_run(facts, model, fit)
    if linked is not None:
        return linked
    return [e for e in held_out(facts, model) if e.cell is None or fit.cell is None or e.cell >= fit.cell]


def _judge(check, context: CheckContext, model: Model, fit: Fit, index: int, value: str) -> tuple[list[str], str]:
    """(what this run lacks, the evidence line naming the variant and its result)."""
    params, facts = check.params, context.facts
    name = describe_model(model).split(":")[0]
    problems = []
    if params.fresh_weights and index > 0 and fit.fresh_start is not True:
        problems.append(f"trained again from the weights an earlier fit of {name} left")
    tested = _run_evaluations(facts, model, fit)
    validated = validated_on_held_out(fit)
    if params.each_evaluated_on_held_out and not tested and not validated:
        problems.append("not evaluated on held-out data")
    shown = reported_line(context, name, [model], tested or None, [fit]) if params.each_reported else "not asked"
    if shown is None:
        problems.append("its result is not shown")
    if tested:
        result = metrics_text(tested[0])
    else:
        result = f"validation_data every epoch, {validation_text(fit)}" if validated else "no held-out result"
    optimizer = (
        f", {fit.optimizer.cls} lr {fit.optimizer.learning_rate:g}"
        if fit.optimizer and fit.optimizer.learning_rate
        else ""
    )
    named_alike = sum(describe_model(m).split(":")[0] == name for m in facts.models) > 1
    record = f"model {model.id}, " if named_alike else ""  # one name, several models (rebuilt in a loop)
    line = f"{value}: {name} ({record}cell {fit.cell}{optimizer}), {fit.epochs_run} epoch(s), {result}"
    return problems, line + (f": {'; '.join(problems)}" if problems else "")
