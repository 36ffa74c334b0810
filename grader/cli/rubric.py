"""The rubric's commands (`grader rubric publish|lint|try|draft`) and `grader score-answers`
(written answers from a CSV scored against a rubric, without notebooks)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
import yaml

from grader.authoring.assignment_file import assignment_yaml
from grader.authoring.draft import DraftError, draft_rubric, read_questions
from grader.authoring.lint import lint_rubric
from grader.cli.common import SemanticOption, fail, semantic_matcher
from grader.redact import visible_rubric
from grader.rubric import RubricError, load_rubric, parse_rubric
from grader.score.semantic import SemanticUnavailable
from grader.words import count


def score_answers_command(
    rubric: Annotated[Path, typer.Option(help="The rubric YAML file.")],
    answers: Annotated[Path, typer.Option(help="CSV with columns question_id, answer_id, text.")],
    out: Annotated[Path, typer.Option(help="Where to write the scores CSV.")],
    semantic: SemanticOption = None,
) -> None:
    """Score written answers from a CSV against a rubric, without notebooks: one row per answer."""
    from grader.score.answers_api import AnswersError, read_answers, score_answers, write_scores

    try:
        parsed = load_rubric(rubric)
        rows = read_answers(answers)
        matcher = semantic_matcher(parsed, semantic)
        results = score_answers(parsed, rows, matcher)
    except (RubricError, AnswersError) as exc:
        fail(str(exc))
    try:
        write_scores(out, results)
    except OSError as exc:
        fail(f"{out}: cannot write the scores: {exc.strerror or exc}")
    mode = "keywords + semantic" if matcher is not None and matcher.active else "keywords only"
    print(f"Wrote {out} ({count(len(results), 'answer')}, {mode})")


def rubric_publish(
    rubric: Annotated[Path, typer.Argument(help="The full rubric.")],
    out: Annotated[Path, typer.Option(help="Where to write the student-safe rubric.")],
) -> None:
    """Write a rubric students may see: hidden concepts keep id, points and hint, lose their phrases."""
    try:
        public = visible_rubric(load_rubric(rubric), "student")
    except RubricError as exc:
        fail(str(exc))
    data = public.model_dump(mode="json", exclude_defaults=True)
    out.write_text(
        f"# Published from {rubric.name} by `grader rubric publish`: safe to give to students.\n"
        + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100),
        encoding="utf-8",
    )
    print(f"Wrote {out}")


def rubric_lint(
    file: Annotated[Path, typer.Argument(help="The rubric YAML file.")],
    strict: Annotated[bool, typer.Option(help="Exit 1 when there are warnings.")] = False,
) -> None:
    """Check a rubric: schema errors with the path of each bad field, then what would grade badly."""
    try:
        rubric = load_rubric(file)
    except RubricError as exc:
        fail(str(exc))
    findings = lint_rubric(rubric)
    for finding in findings:
        print(f"{file}: {finding.where}: {finding.message}")
    print(
        f"{file}: {'OK' if not findings else count(len(findings), 'warning')} "
        f"({count(len(rubric.questions), 'question')}, {count(len(rubric.checks), 'check')}, {count(rubric.max_score, 'point')})"
    )
    if findings and strict:
        raise typer.Exit(1)


def rubric_try(
    rubric: Annotated[Path, typer.Argument(help="The rubric YAML file.")],
    notebooks: Annotated[list[Path], typer.Argument(help="A few saved notebooks (not run).")],
    out: Annotated[Path, typer.Option(help="Where to write the page.")] = Path("rubric-try.html"),
    template: Annotated[
        Optional[Path], typer.Option(help="The template notebook: its text is never taken for an answer.")
    ] = None,
    semantic: SemanticOption = None,
) -> None:
    """Score a few notebooks without running them; per concept, the sentence that matched or the nearest miss."""
    import nbformat

    from grader.authoring.try_rubric import render_html, render_terminal, try_rubric
    from grader.extract.cells import prose_lines

    try:
        parsed = load_rubric(rubric)
    except RubricError as exc:
        fail(str(exc))
    template_lines: frozenset[str] = frozenset()
    if template is not None:
        try:
            template_lines = prose_lines(nbformat.read(template, as_version=4))
        except Exception as exc:
            fail(f"{template}: not a readable notebook ({exc})")
    missing = [str(p) for p in notebooks if not p.is_file()]
    if missing:
        fail(f"not found: {', '.join(missing)}")
    results = try_rubric(parsed, notebooks, template_lines, semantic_matcher(parsed, semantic))
    for line in render_terminal(results):
        print(line)
    try:
        out.write_text(render_html(parsed, results), encoding="utf-8")
    except OSError as exc:
        fail(f"{out}: cannot write the page: {exc.strerror or exc}")
    print(f"Wrote {out}")


def rubric_draft(
    out: Annotated[Path, typer.Option(help="Where to write the rubric YAML.")],
    questions: Annotated[
        Optional[Path], typer.Option(help="CSV with question_id,prompt,reference[,points,part,number].")
    ] = None,
    solution: Annotated[
        Optional[Path], typer.Option(help="The solution notebook (with --template): references from its answers.")
    ] = None,
    template: Annotated[
        Optional[Path], typer.Option(help="The template notebook students get: its numbered questions.")
    ] = None,
    points: Annotated[float, typer.Option(help="Points per question drafted from notebooks.")] = 10.0,
    title: Annotated[str, typer.Option(help="The rubric's title.")] = "Draft rubric",
    semantic: Annotated[
        Optional[bool],
        typer.Option(
            "--semantic/--keywords-only",
            help="Group synonyms and add a reference share (needs the semantic extra); default: when installed.",
        ),
    ] = None,
    assignment: Annotated[
        Optional[Path],
        typer.Option(
            help="An assignment folder to write assignment.yaml in (its questions, the rubric, template and "
            "solution paths, the solution's data files); an existing one is left alone."
        ),
    ] = None,
) -> None:
    """Propose a rubric from reference answers (a CSV, or a solution notebook and its template): a draft to edit."""
    from grader.authoring.from_notebooks import questions_from_notebooks

    if (questions is None) == (solution is None and template is None) or (
        questions is None and None in (solution, template)
    ):
        fail("give either --questions CSV, or both --solution and --template notebooks")
    try:
        if questions is not None:
            rows, source = read_questions(questions), questions.name
        else:
            rows, source = questions_from_notebooks(solution, template, points), f"{solution.name} and {template.name}"
        draft = draft_rubric(rows, title, semantic)
        parse_rubric(draft.rubric, str(out))
    except (DraftError, RubricError, SemanticUnavailable) as exc:
        fail(str(exc))
    if assignment is not None and (assignment / "assignment.yaml").exists():
        fail(
            f"{assignment / 'assignment.yaml'} already exists: not overwritten (nothing was written); leave out"
            " --assignment to draft the rubric alone"
        )
    try:
        out.write_text(draft.to_yaml(source), encoding="utf-8")
    except OSError as exc:
        fail(f"{out}: cannot write the rubric: {exc.strerror or exc}")
    print(
        f"Wrote {out} ({count(len(rows), 'question')}); check it with `grader rubric lint {out}` and `grader rubric try {out} NOTEBOOK`"
    )
    if assignment is not None:
        _write_assignment(assignment, assignment_yaml(assignment, draft.rubric, out, template, solution))


def _write_assignment(folder: Path, text: str) -> None:
    config = folder / "assignment.yaml"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        config.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"{config}: cannot write the assignment file: {exc.strerror or exc}")
    print(f"Wrote {config}; grade with `grader grade NOTEBOOKS --assignment {folder} --out OUT`")
