"""``evaluated_on_held_out_data``: the models the checks above chose were evaluated on data they
were not trained on: by ``evaluate``/``predict``/an eval loop, or by Keras itself every epoch on
the ``validation_data`` given to ``fit`` when none of it was trained on and it is not rows kept
back from a served dataset's training split (with ``validation_counts``, any validation in
training counts, ``validation_split`` too)."""

from __future__ import annotations

from grader.check_specs import EvaluatedOnHeldOutData as HeldOutSpec
from grader.score.checks.base import (
    HELD_OUT_OVERLAP,
    CheckContext,
    CheckKind,
    Verdict,
    call_text,
    environment_verdict,
    evaluations_of,
    fits_of,
    held_out,
    held_out_call,
    held_out_shown,
    metrics_text,
    not_shown_to_run,
    referenced_static_calls,
    saved_outputs_verdict,
    validated_on_held_out,
    validation_text,
)


class EvaluatedOnHeldOutData(CheckKind):
    kind = "evaluated_on_held_out_data"

    def run(self, check: HeldOutSpec, context: CheckContext) -> Verdict:
        facts = context.facts
        passed, evidence = True, []
        for check_id in check.params.models:
            models = context.chosen.get(check_id, [])
            if not models:
                passed = False
                evidence.append(f"{check_id}: no trained model to evaluate")
                continue
            found = self._held_out_evidence(check, context, check_id, models)
            if found:
                evidence.append(found)
                continue
            passed = False
            seen = [e for m in models for e in evaluations_of(facts, m)]
            if seen:
                worst = max((e.overlap_with_training or 0) for e in seen)
                evidence.append(
                    f"{check_id}: evaluated only on data it was trained on ({worst:.0%} of the evaluated samples were training samples)"
                )
            elif any(f.validation_dataset_split == "train" for m in models for f in fits_of(facts, m)):
                evidence.append(
                    f"{check_id}: measured only on validation rows kept back from the training images, never on the test set"
                )
            else:
                evidence.append(f"{check_id}: never evaluated with evaluate() or predict()")
        return Verdict(passed, evidence)

    def _held_out_evidence(self, check: HeldOutSpec, context: CheckContext, check_id: str, models) -> str | None:
        """The line saying how one of ``models`` was measured on held-out data, or None."""
        facts = context.facts
        for model in models:
            found = held_out(facts, model)
            if found:
                first = found[0]
                line = f"{check_id}: {model.variable or model.name} evaluated on {first.samples or '?'} samples it was not trained on ({metrics_text(first)})"
                if (first.overlap_with_training or 0) > HELD_OUT_OVERLAP:
                    line += f"; it is the dataset's test split, though {first.overlap_with_training:.0%} of those images also occur in the data file's training images"
                return line
            validated = [
                f
                for f in fits_of(facts, model)
                if f.validation != "none" and any(k.startswith("val_") for k in f.history)
            ]
            held_out_validation = [f for f in validated if validated_on_held_out(f)]
            if held_out_validation:
                return (
                    f"{check_id}: {model.variable or model.name} evaluated every epoch on the validation_data given to"
                    f" fit(), {validation_text(held_out_validation[-1])}"
                )
            if check.params.validation_counts and validated:
                return f"{check_id}: {model.variable or model.name} measured on validation data during training"
        return None

    def static(self, check: HeldOutSpec, context: CheckContext) -> Verdict | None:
        """From the code: each model's evaluate()/predict(), held-out data preferred, or else its fit's
        ``validation_data`` when that is held out (Keras evaluates on it every epoch, which the run
        counts as an evaluation)."""
        validation = check.params.validation_counts
        found = referenced_static_calls(
            check, context, ("evaluate", "predict", "validate"), lambda call: held_out_call(context, call, validation)
        )
        if found is None:
            return None
        models, calls = found
        if any(c.method == "validate" and not held_out_call(context, c, validation) for c in calls):
            return None
        if any(call.cell in context.environment for call in calls):
            return environment_verdict(check, context, models, calls)
        if context.saved_outputs_only and all(held_out_shown(context, call, validation) for call in calls):
            shown = "; ".join(
                f"{m.variable}: {call_text(c, argument=True)} in cell {c.cell}" for m, c in zip(models, calls)
            )
            return saved_outputs_verdict(f"{shown}; the saved outputs show results on held-out data")
        return not_shown_to_run(check, context, models[0], calls[0])
