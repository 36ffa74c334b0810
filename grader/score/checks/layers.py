"""Models told apart by their layers: one with some layer classes was trained
(``trained_model_with_layers``), one without them was trained (``trained_model_without_layers``),
ideally the same model minus those layers (``compare_with``)."""

from __future__ import annotations

from grader.check_specs import TrainedModelWithLayers as WithLayersSpec
from grader.check_specs import TrainedModelWithoutLayers as WithoutLayersSpec
from grader.facts import Facts, Model
from grader.models import StaticModel
from grader.score.checks.base import (
    CheckContext,
    CheckKind,
    Verdict,
    describe_model,
    fits_of,
    not_shown_to_run,
    saved_outputs_verdict,
    training_summary,
)
from grader.score.checks.outside import framework_module, imitations, outside_checked, unlearned


def _trained(facts: Facts, model: Model, min_epochs: int) -> bool:
    """Epochs run, not counting a fit after which the weights were as before it (nothing learned)."""
    return sum(f.epochs_run for f in fits_of(facts, model) if f.weights_changed is not False) >= min_epochs


class _LayerKind(CheckKind):
    def static_models(self, check, context: CheckContext) -> list[StaticModel]:
        """The models the code defines (read from its syntax) that this check is about."""
        raise NotImplementedError

    def static(self, check, context: CheckContext) -> Verdict | None:
        static = context.evidence.static
        fitted = [(m, c) for m in self.static_models(check, context) for c in static.calls_on(m.variable, "fit")]
        context.chosen_static[check.id] = [m for m, _ in fitted]
        if not fitted:
            return None
        model, call = next(((m, c) for m, c in fitted if c.cell in context.environment), fitted[0])
        if context.saved_outputs_only and any(c.output_shows_training for _, c in fitted):
            return saved_outputs_verdict(
                f"{model.variable}: {' '.join(model.layers)} (cell {model.cell}); the saved outputs show it training"
            )
        return not_shown_to_run(check, context, model, call)


class TrainedModelWithLayers(_LayerKind):
    kind = "trained_model_with_layers"

    def run(self, check: WithLayersSpec, context: CheckContext) -> Verdict:
        params = check.params
        kinds, min_rate, max_rate = set(params.layers), params.min_rate, params.max_rate
        facts = context.facts
        with_layer = [m for m in facts.models if _has_layer(m, kinds, min_rate, max_rate)]
        trained = [m for m in with_layer if _trained(facts, m, params.min_epochs)]
        trained, outside = outside_checked(context, trained, kinds, (min_rate, max_rate))
        context.chosen[check.id] = trained
        if trained:
            return Verdict(True, [f"{describe_model(m)}; {training_summary(facts, m)}" for m in trained] + outside)
        evidence = outside + unlearned(facts, with_layer) + imitations(facts, kinds)
        for model in with_layer:
            if not _trained(facts, model, params.min_epochs) and not unlearned(facts, [model]):
                evidence.append(
                    f"{describe_model(model)} was built but never trained ({params.min_epochs}+ epoch needed)"
                )
        useless = [
            m
            for m in facts.models
            if any(
                layer.cls in kinds and layer.rate is not None and not (min_rate < layer.rate < max_rate)
                for layer in m.layers
            )
        ]
        for model in useless:
            evidence.append(f"{describe_model(model)}: a rate outside ({min_rate:g}, {max_rate:g}) has no effect")
        if not evidence:
            evidence.extend(
                f"{m.variable} = {' '.join(m.layers)} (cell {m.cell}) is defined but never trained"
                for m in self.static_models(check, context)
                if not context.evidence.static.calls_on(m.variable, "fit")
            )
        if not evidence:
            names = ", ".join(sorted(kinds)[:4])
            evidence.append(f"no model containing {names} was trained in the run")
        return Verdict(False, evidence)

    def static_models(self, check: WithLayersSpec, context: CheckContext) -> list[StaticModel]:
        kinds, min_rate, max_rate = set(check.params.layers), check.params.min_rate, check.params.max_rate
        return [
            m
            for m in context.evidence.static.models
            if any(kind in kinds and (r is None or min_rate < r < max_rate) for kind, r in zip(m.layers, m.rates))
        ]


def _has_layer(model: Model, kinds: set[str], min_rate: float, max_rate: float) -> bool:
    """A layer of one of ``kinds`` that is the framework's own class, with a rate in range."""
    return any(
        layer.cls in kinds
        and framework_module(layer.module)
        and (layer.rate is None or min_rate < layer.rate < max_rate)
        for layer in model.layers
    )


class TrainedModelWithoutLayers(_LayerKind):
    kind = "trained_model_without_layers"

    def run(self, check: WithoutLayersSpec, context: CheckContext) -> Verdict:
        kinds = set(check.params.layers)
        facts = context.facts
        without = [
            m
            for m in facts.models
            if m.layers and not any(layer.cls in kinds and not _inert(layer) for layer in m.layers)
        ]
        trained = [m for m in without if _trained(facts, m, check.params.min_epochs)]
        trained, outside = outside_checked(context, trained)
        context.chosen[check.id] = trained
        if not trained:
            if doubts := outside + unlearned(facts, without):
                return Verdict(False, doubts)
            if without:
                return Verdict(False, [f"{describe_model(m)} was built but never trained" for m in without])
            return Verdict(False, ["no model without " + ", ".join(sorted(kinds)[:3]) + " was trained in the run"])
        evidence = [f"{describe_model(m)}; {training_summary(facts, m)}" for m in trained] + outside
        reference = context.chosen.get(check.params.compare_with or "", [])
        if reference:
            evidence.append(_comparison_note(reference[0], trained, kinds))
        return Verdict(True, evidence)

    def static_models(self, check: WithoutLayersSpec, context: CheckContext) -> list[StaticModel]:
        kinds = set(check.params.layers)
        return [
            m for m in context.evidence.static.models
            if m.layers and not any(kind in kinds and not (r is not None and r <= 0) for kind, r in zip(m.layers, m.rates))
        ]  # fmt: skip


def _inert(layer) -> bool:
    """A dropout-like layer at rate 0 does nothing: the model is as if it were not there."""
    return layer.rate is not None and layer.rate <= 0


def _comparison_note(reference: Model, candidates: list[Model], kinds: set[str]) -> str:
    """Whether a candidate is ``reference`` minus the layers of ``kinds``, in the rubric's words."""
    left_out = ", ".join(sorted({layer.cls for layer in reference.layers if layer.cls in kinds})) or ", ".join(
        sorted(kinds)[:3]
    )
    stripped = [(layer.cls, layer.units, layer.regularized) for layer in reference.layers if layer.cls not in kinds]
    for model in candidates:
        if [
            (layer.cls, layer.units, layer.regularized)
            for layer in model.layers
            if not (layer.cls in kinds and _inert(layer))
        ] == stripped:
            name, reference_name = _names(model, reference)
            return f"like-for-like: {name} has the same layers as {reference_name} minus its {left_out} layers"
    model = candidates[0]
    differences = []
    if any(layer.regularized for layer in model.layers) and not any(layer.regularized for layer in reference.layers):
        differences.append("it adds weight regularization")
    if [layer.units for layer in model.layers if layer.units] != [units for _, units, _ in stripped if units]:
        differences.append("its layer sizes differ")
    return "not a like-for-like comparison: " + (
        "; ".join(differences) or f"its layers differ beyond the {left_out} layers"
    )


def _names(model: Model, reference: Model) -> tuple[str, str]:
    """The two models' names, told apart by their record ids when the code named both alike (``model``
    inside the builder that made each)."""
    name, reference_name = describe_model(model).split(":")[0], describe_model(reference).split(":")[0]
    if name == reference_name:
        return f"{name} (model {model.id})", f"{reference_name} (model {reference.id})"
    return name, reference_name
