"""What the clean verifier outside the kernel says about a model the facts call trained.

The probe's facts are recorded inside the student's process; the verifier (``execute/verify.py``)
loaded the model the probe saved, in a process that never ran student code, and measured it. A
model counts when the verifier agrees with the facts; a contradiction drops it, and a model the
verifier could not load keeps its facts but is flagged. Every line here that a person should look
at carries one of ``DOUBTS``; the score stage turns those into ``needs review`` flags.
"""

from __future__ import annotations

from grader.facts import Facts, Model
from grader.score.checks.base import CheckContext, describe_model, fits_of, held_out, held_out_of_run

FRAMEWORK_MODULES = ("keras.", "tf_keras.", "tensorflow.", "torch.nn.")
UNVERIFIED = "not independently verified"
CONTRADICTED = "contradicted outside the kernel"
NOTHING_LEARNED = "its weights did not change"
IMITATION = "the notebook's own class, not the framework's"
DOUBTS = (UNVERIFIED, CONTRADICTED, NOTHING_LEARNED, IMITATION)  # evidence a person should look at
AGREEMENT = 0.05  # gap allowed between the probe's held-out accuracy and the verifier's, beyond sampling noise


def framework_module(module: str | None) -> bool:
    """A layer class of the framework itself (None: facts recorded before modules were)."""
    return module is None or module.startswith(FRAMEWORK_MODULES)


def verdict_outside(
    context: CheckContext, model: Model, kinds: set[str] = frozenset(), rates=(0.0, 1.0)
) -> tuple[bool | None, str]:
    """(True, evidence) when the saved model confirms the layers and shows training; (False, why)
    when it contradicts the facts; (None, why) when it could not be checked; (None, "") for facts
    without a verification (recorded before there was one)."""
    verification = context.facts.verification
    if verification is None:
        return None, ""
    found = verification.of(model.id)
    if found is None:
        return None, f"{UNVERIFIED}: {verification.note or 'no saved model'}"
    if not found.loaded:
        return None, f"{UNVERIFIED}: {found.reason}"
    if kinds:
        low, high = rates
        matching = [
            layer for layer in found.layers
            if layer.path.startswith(FRAMEWORK_MODULES) and layer.path.rsplit(".", 1)[-1] in kinds
            and (layer.rate is None or low < layer.rate < high)
        ]  # fmt: skip
        if not matching:
            shown = ", ".join(layer.path.rsplit(".", 1)[-1] for layer in found.layers[:12]) or "none"
            return False, (
                f"{CONTRADICTED}: the saved model has no framework {'/'.join(sorted(kinds))} layer with a rate in"
                f" ({low:g}, {high:g}) (its layers: {shown})"
            )
    if found.accuracy is None or found.chance is None:
        return None, f"{UNVERIFIED}: {found.reason or 'no held-out split to measure it on'}"
    if found.near_chance():
        near_chance = (
            f"scores {found.accuracy:.4f} on {found.samples:,} held-out samples, near chance ({found.chance:.3f})"
        )
        if context.fast_run and (cut := budget_cut(fits_of(context.facts, model))):
            return None, (
                f"{UNVERIFIED}: the saved model {near_chance} after the fast budget cut its training ({cut}), which a"
                " model that learns slowly has not got past yet: a run with the full budget settles it"
            )
        return False, f"{CONTRADICTED}: the saved model {near_chance}; it did not learn"
    recorded = final_accuracy(context.facts, model)
    if recorded and not agrees(recorded[0], recorded[1], found.accuracy, found.samples):
        return False, (
            f"{CONTRADICTED}: the run recorded a held-out accuracy of {recorded[0]:.4f}, the saved model scores"
            f" {found.accuracy:.4f} on {found.samples:,} held-out samples"
        )
    return True, f"verified outside the kernel: held-out accuracy {found.accuracy:.4f} on {found.samples:,} samples"


def budget_cut(fits) -> str:
    """What the fast budget took from these fits ("1 of 100 epochs"), or "" when it cut none."""
    cut = [f for f in fits if f.budgeted]
    if not cut:
        return ""
    requested = max(f.epochs_requested or 0 for f in cut)
    run = max(f.epochs_run for f in cut)
    return f"{run} of {requested} epochs" if 0 < run < requested else "fewer training rows or batches"


def final_accuracy(facts: Facts, model: Model) -> tuple[float, int | None] | None:
    """(accuracy, samples) of the model's last held-out evaluation, made no earlier than its last
    fit's cell: the one that measured the weights the verifier loaded (an accuracy taken before
    later training, an untrained model's or an early epoch's, says nothing of them). None without one."""
    last_fit = max((f.cell for f in fits_of(facts, model) if f.cell is not None), default=None)
    fits = fits_of(facts, model)
    linked = held_out_of_run(facts, model, fits[-1]) if fits else None  # its last run's, as the probe links them
    evaluations = held_out(facts, model) if linked is None else linked
    for evaluation in reversed(evaluations):
        if last_fit is not None and evaluation.cell is not None and evaluation.cell < last_fit:
            return None
        accuracy = next((v for k, v in evaluation.metrics.items() if "acc" in k.lower()), None)
        if accuracy is not None:
            return accuracy, evaluation.samples
    return None


def agrees(recorded: float, recorded_samples: int | None, verified: float, verified_samples: int) -> bool:
    """Two accuracies of one model on samples of the same split agree within AGREEMENT plus three
    standard errors of each sample (64 evaluated rows leave room for 0.2)."""
    p = min(max(verified, 0.01), 0.99)
    noise = sum((p * (1 - p) / max(1, n)) ** 0.5 for n in (recorded_samples or verified_samples, verified_samples))
    return abs(recorded - verified) <= AGREEMENT + 3 * noise


def outside_checked(context: CheckContext, models: list[Model], kinds: set[str] = frozenset(), rates=(0.0, 1.0)):
    """The models the verifier does not contradict, and one evidence line per model it spoke of."""
    kept, lines = [], []
    for model in models:
        verdict, line = verdict_outside(context, model, kinds, rates)
        if verdict is not False:
            kept.append(model)
        if line:
            lines.append(f"{model.variable or model.name or f'model {model.id}'}: {line}")
    return kept, lines


def unlearned(facts: Facts, models: list[Model]) -> list[str]:
    """Models fit without learning: the weights' hash after a fit (Keras: ``fit()``; PyTorch: a
    cell's optimizer steps) was the one before it."""
    return [
        f"{describe_model(m)}: {'fit()' if m.framework == 'keras' else 'its optimizer steps'} ran but {NOTHING_LEARNED},"
        " so nothing was learned"
        for m in models
        if any(f.weights_changed is False for f in fits_of(facts, m))
    ]


def imitations(facts: Facts, kinds: set[str]) -> list[str]:
    """Models with a layer class named like one of ``kinds`` but defined outside the framework."""
    lines = []
    for model in facts.models:
        names = sorted(
            {
                f"{layer.module}.{layer.cls}"
                for layer in model.layers
                if layer.cls in kinds and not framework_module(layer.module)
            }
        )
        if names:
            lines.append(f"{describe_model(model)}: its {', '.join(names)} is {IMITATION}")
    return lines
