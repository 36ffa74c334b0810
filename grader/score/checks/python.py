"""``python``: an instructor's own rule, ``function(facts, evidence)`` (docs/checks.md), run in the
grader over the recorded facts, never in the student's kernel.

It sees what the general kinds see: the facts, the outputs (saved ones under ``--no-run``), the
cells that drew plots, the cells our run verified or saw fail, the run mode, and the models earlier
checks chose. It may return a fraction for partial credit and choose models for later checks'
``models:``.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from typing import Any, Callable

from grader.check_specs import PythonCheck as PythonSpec
from grader.score.checks.base import CheckContext, CheckKind, Verdict


class PythonCheck(CheckKind):
    kind = "python"

    def run(self, check: PythonSpec, context: CheckContext) -> Verdict:
        function = _instructor_function(check.params.function)
        try:
            result = function(context.facts.model_dump(mode="json"), evidence_for(check, context))
            verdict, models = _verdict(result)
        except Exception as exc:  # the instructor's code: report, do not crash the batch
            return Verdict(False, [f"the check's function raised {type(exc).__name__}: {exc}"])
        if models is not None:
            by_id = {model.id: model for model in context.facts.models}
            unknown = [m for m in models if m not in by_id]
            if unknown:
                return Verdict(False, [f"the check's function chose models {unknown} that the run did not record"])
            context.chosen[check.id] = [by_id[m] for m in models]
        return verdict


def evidence_for(check: PythonSpec, context: CheckContext) -> dict[str, Any]:
    evidence = context.evidence
    return {
        "outputs": dict(evidence.outputs),
        "code_cells": dict(evidence.code_cells),
        "answers": {qid: a.text for qid, a in evidence.answers.items()},
        "plots": sorted(evidence.images),
        "verified_cells": sorted(context.verified_cells),
        "failed_cells": sorted(context.failed_cells),
        "mode": "no-run" if context.saved_outputs_only else "run",
        "chosen": {ref: [model.id for model in models] for ref, models in context.chosen.items()},
        "params": check.params.model_dump(exclude={"function"}),
    }


def _verdict(result) -> tuple[Verdict, list | None]:
    """``True``/``False``; ``(passed, [lines])``; a fraction in [0, 1] (partial credit); or a dict with
    ``passed``, ``evidence``, ``credit`` and ``models`` (the model ids later checks get)."""
    if isinstance(result, dict):
        credit = float(result.get("credit", 1.0 if result.get("passed") else 0.0))
        passed = bool(result.get("passed", credit > 0))
        models = result.get("models")
        return Verdict(passed, [str(line) for line in result.get("evidence", [])], _fraction(credit)), (
            None if models is None else list(models)
        )
    if isinstance(result, tuple):
        passed, lines = result
        return Verdict(bool(passed), [str(line) for line in lines]), None
    if isinstance(result, float) and not isinstance(result, bool):
        credit = _fraction(result)
        return Verdict(credit > 0, [], credit), None
    return Verdict(bool(result), []), None


def _fraction(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"credit must be between 0 and 1, got {value}")
    return value


@lru_cache(maxsize=32)
def _instructor_function(target: str) -> Callable:
    file, _, name = target.rpartition(":")
    spec = importlib.util.spec_from_file_location(f"grader_instructor_checks_{abs(hash(file))}", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)
