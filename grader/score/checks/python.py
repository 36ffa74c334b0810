"""``python``: an instructor's own rule, ``function(facts, evidence) -> bool | (bool, [str])``
(docs/checks.md), run in the grader over the recorded facts, never in the student's kernel."""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from typing import Callable

from grader.check_specs import PythonCheck as PythonSpec
from grader.score.checks.base import CheckContext, CheckKind, Verdict


class PythonCheck(CheckKind):
    kind = "python"

    def run(self, check: PythonSpec, context: CheckContext) -> Verdict:
        function = _instructor_function(check.params.function)
        evidence = {
            "outputs": dict(context.evidence.outputs),
            "code_cells": dict(context.evidence.code_cells),
            "answers": {qid: a.text for qid, a in context.evidence.answers.items()},
            "params": check.params.model_dump(exclude={"function"}),
        }
        try:
            result = function(context.facts.model_dump(mode="json"), evidence)
        except Exception as exc:  # the instructor's code: report, do not crash the batch
            return Verdict(False, [f"the check's function raised {type(exc).__name__}: {exc}"])
        if isinstance(result, tuple):
            passed, lines = result
            return Verdict(bool(passed), [str(line) for line in lines])
        return Verdict(bool(result), [])


@lru_cache(maxsize=32)
def _instructor_function(target: str) -> Callable:
    file, _, name = target.rpartition(":")
    spec = importlib.util.spec_from_file_location(f"grader_instructor_checks_{abs(hash(file))}", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)
