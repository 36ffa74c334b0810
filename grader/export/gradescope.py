"""Gradescope autograder results: ``results.json`` per submission, and running inside Gradescope.

Schema (Gradescope "Autograder Specifications"): top-level ``score``, ``execution_time``,
``output``, ``visibility``, ``stdout_visibility`` and ``tests``, each test with ``name``,
``score``, ``max_score``, ``output`` and ``visibility``.

One test per question and one per check. A question with hidden concepts is split in two: the
``visible`` test is made from the student's view of the record (``grader.redact``) and holds the
visible concepts' points; what the redaction hid goes in an ``after_published`` test, so the
hidden rubric stays unseen until grades are published (Gradescope also hides the total until
then). The two parts always add up to the question's score. Stdout (the grader's log) is hidden.
A submission that could not be graded scores 0 with the reason in ``output``: on Gradescope the
student can fix it and submit again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from grader.export.common import Export, by_student, is_graded, number, safe_dirname
from grader.export.grades_json import question_name
from grader.redact import redact_record, visible_rubric
from grader.rubric import Rubric
from grader.words import humanize, named


def gradescope_results(record: dict, rubric: Rubric) -> dict:
    """The results.json object for one grade record."""
    seconds = (record.get("execution") or {}).get("seconds") or 0
    if not is_graded(record):
        return {
            "score": 0.0,
            "execution_time": round(seconds),
            "output": (
                f"Not graded: {record.get('error') or 'the notebook could not be read'}\n"
                "Fix the problem and submit again."
            ),
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "tests": [],
        }
    shown = redact_record(record, rubric, "student")  # what students see before grades are published
    rubric = visible_rubric(rubric, "student")
    tests: list[dict] = []
    for question, released in zip(shown.get("questions", []), record.get("questions", [])):
        tests.extend(_question_tests(question, released, rubric))
    descriptions = {c.id: (c.description, c.hint) for c in rubric.checks}
    for check in record.get("checks", []):
        description, hint = descriptions.get(check["id"], ("", ""))
        lines = ["Passed." if check.get("passed") else "Not passed."]
        lines += [f"- {named(line, descriptions)}" for line in check.get("evidence", [])]
        if not check.get("passed") and hint:
            lines.append(f"Hint: {hint}")
        tests.append(
            _test(
                f"{humanize(check['id'])}: {description}" if description else humanize(check["id"]),
                check["score"],
                check["max_score"],
                lines,
            )
        )
    return {
        "score": float(record["score"]),
        "execution_time": round(seconds),
        "output": f"Score: {number(record['score'])} / {number(record['max_score'])}",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def _question_tests(question: dict, released: dict, rubric: Rubric) -> list[dict]:
    """``question`` as students see it before grades are published (``redact_record``), and as
    they see it after (``released``): what the redaction hid goes in an ``after_published`` test."""
    asked = next((q for q in rubric.questions if q.id == question["id"]), None)
    hints = {c.id: c.hint for c in asked.concepts} if asked else {}
    visible, hidden = [], []
    for concept, unredacted in zip(question.get("concepts", []), released.get("concepts", [])):
        if concept.get("redacted"):
            hidden.append((unredacted, hints.get(concept["id"], "")))
        else:
            visible.append((concept, hints.get(concept["id"], "")))
    name = question_name(question) + (f": {_short(asked.prompt)}" if asked else "")
    score, max_score = float(question["score"]), float(question["max_score"])
    found_points = sum(float(c["points"]) for c in question.get("concepts", []) if c.get("found"))
    capped = []
    if score < min(max_score, found_points):
        needs = f": a full answer needs about {asked.min_words} words" if asked and asked.min_words else ""
        capped = [f"The points for this answer were capped{needs}."]
    if not hidden:
        return [_test(name, score, max_score, _concept_lines(visible) + capped)]
    visible_max = min(max_score, sum(float(c["points"]) for c, _ in visible))
    visible_found = sum(float(c["points"]) for c, _ in visible if c.get("found"))
    visible_score = min(score, visible_found)
    capped_now = capped if visible_score < min(visible_max, visible_found) else []
    later = _test(
        f"{name} (more points, shown when grades are published)",
        round(score - visible_score, 2),
        round(max_score - visible_max, 2),
        _concept_lines(hidden) + ([] if capped_now else capped),
        visibility="after_published",
    )
    if not visible:
        return [later]
    return [_test(name, visible_score, visible_max, _concept_lines(visible) + capped_now), later]


def _concept_lines(concepts: list[tuple[dict, str]]) -> list[str]:
    lines = []
    for concept, hint in concepts:
        if concept.get("found"):
            quote = f": “{concept['evidence']}”" if concept.get("evidence") else ""
            lines.append(f"Found {humanize(concept['id'])}{quote}")
        elif concept.get("negated"):
            lines.append(
                f"Not found {humanize(concept['id'])} (mentioned only in negated form)"
                + (f". Hint: {hint}" if hint else "")
            )
        else:
            lines.append(f"Not found {humanize(concept['id'])}" + (f". Hint: {hint}" if hint else ""))
    return lines


def _test(name: str, score: float, max_score: float, lines: list[str], visibility: str = "visible") -> dict:
    return {
        "name": name,
        "score": float(score),
        "max_score": float(max_score),
        "output": "\n".join(lines),
        "visibility": visibility,
    }


def _short(prompt: str, limit: int = 70) -> str:
    text = " ".join(prompt.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _json_bytes(data: object) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def gradescope_files(records: list[dict], rubric: Rubric) -> Export:
    """``gradescope/<student>/results.json`` for every submission (folder names made path-safe)."""
    files: dict[str, bytes] = {}
    taken: set[str] = set()
    for record in by_student(records):
        folder = safe_dirname(str(record.get("student") or ""), taken)
        files[f"gradescope/{folder}/results.json"] = _json_bytes(gradescope_results(record, rubric))
    return Export(files)


def run_in_gradescope(
    submission_dir: Path,
    results_path: Path,
    grade_fn: Callable[[Path], dict],
    rubric: Rubric,
) -> dict:
    """Grade the notebook Gradescope put in ``submission_dir`` and write ``results_path``.

    ``grade_fn`` grades one notebook path and returns its grade record. Gradescope's layout is
    ``/autograder/submission/*.ipynb`` -> ``/autograder/results/results.json``. With no notebook
    the student gets 0 and a message saying what to upload; with several, the first by name is
    graded and the output says so. An exception from ``grade_fn`` (the grader itself failed) is
    not caught, so Gradescope reports an autograder failure the staff can re-run.
    """
    notebooks = sorted(submission_dir.glob("*.ipynb")) or sorted(
        p for p in submission_dir.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
    )
    if not notebooks:
        names = ", ".join(sorted(p.name for p in submission_dir.rglob("*") if p.is_file())) or "nothing"
        results = {
            "score": 0.0,
            "output": f"No Jupyter notebook (.ipynb) was found in your submission (it had: {names}). "
            "Upload your .ipynb file and submit again.",
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "tests": [],
        }
    else:
        results = gradescope_results(grade_fn(notebooks[0]), rubric)
        if len(notebooks) > 1:
            graded = notebooks[0].relative_to(submission_dir)
            others = ", ".join(str(p.relative_to(submission_dir)) for p in notebooks[1:])
            results["output"] = f"Graded {graded}; also submitted, not graded: {others}.\n" + results["output"]
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.write_bytes(_json_bytes(results))
    return results
