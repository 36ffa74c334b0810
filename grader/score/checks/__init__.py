"""Code checks: verdicts about what really ran, decided outside the kernel from its facts.

Each check kind is a general rule with parameters from the rubric ("a model with layers X was
trained"), one class per kind with its verdict from the run and its verdict from the code side by
side; its params are typed in ``grader.check_specs``. The Dropout checks of the regularization
homework are instances of them. Checks can refer to the models an earlier check chose
(``compare_with``, ``models``).
"""

from __future__ import annotations

from grader.check_specs import Check
from grader.environment.failures import destroyed_cells, environment_failures
from grader.facts import Facts
from grader.models import CheckGrade, Evidence, Execution
from grader.score.checks.base import HELD_OUT_OVERLAP, CheckContext, CheckKind, Verdict, describe_model
from grader.score.checks.held_out import EvaluatedOnHeldOutData
from grader.score.checks.layers import TrainedModelWithLayers, TrainedModelWithoutLayers
from grader.score.checks.outside import DOUBTS
from grader.score.checks.python import PythonCheck
from grader.score.checks.reported import ResultsReported, number_flood
from grader.score.checks.variants import ComparedVariants

__all__ = [
    "DOUBTS", "HELD_OUT_OVERLAP", "KINDS", "CheckContext", "CheckKind", "Verdict", "describe_model", "number_flood",
    "run_checks", "verified_cells",
]  # fmt: skip

KINDS: dict[str, CheckKind] = {
    kind.kind: kind
    for kind in (
        TrainedModelWithLayers(), TrainedModelWithoutLayers(), EvaluatedOnHeldOutData(), ResultsReported(),
        ComparedVariants(), PythonCheck(),
    )
}  # fmt: skip


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


def _failed_cells(execution: Execution | None) -> frozenset[int]:
    """The cells that raised: in the grader's run, or, for a notebook not run, in the student's (its saved
    error outputs), so that code which failed there is not said to have "not run"."""
    if execution is None:
        return frozenset()
    if execution.mode != "no-run":
        return frozenset(e.cell for e in execution.cell_errors)
    cells = execution.notebook.get("cells", [])
    return frozenset(
        index
        for index, cell in enumerate(cells)
        if any(output.get("output_type") == "error" for output in cell.get("outputs", []) or [])
    )


def run_checks(
    checks: list[Check], facts: Facts, evidence: Evidence, execution: Execution | None = None
) -> tuple[CheckGrade, ...]:
    """Each check's verdict from the run; when the run did not pass it, from the code
    (written but not shown to run earns ``static_credit``; with --no-run, saved outputs count;
    where the grading environment stopped the code, its saved outputs count at ``static_credit``)."""
    context = CheckContext(
        facts,
        evidence,
        verified_cells=verified_cells(execution) if execution else frozenset(),
        failed_cells=_failed_cells(execution),
        saved_outputs_only=bool(execution and execution.mode == "no-run"),
        fast_run=bool(execution and execution.mode == "fast"),
        environment=destroyed_cells(environment_failures(execution)) if execution else {},
    )
    grades = []
    for check in checks:
        kind = KINDS[check.kind]
        verdict = kind.run(check, context)
        if not verdict.passed:
            verdict = kind.static(check, context) or verdict
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
