"""``results_reported``: a result of each model the checks above chose appears in the notebook's
outputs: a metric printed, a training-history plot or table, or a number printed after it."""

from __future__ import annotations

import re

from grader.check_specs import ResultsReported as ReportedSpec
from grader.facts import Facts, Fit, Model
from grader.models import StaticFacts
from grader.score.checks.base import (
    PROGRESS_LOG,
    CheckContext,
    CheckKind,
    Verdict,
    environment_verdict,
    evaluations_of,
    fits_of,
    held_out,
    number_shown,
    referenced_static_calls,
    saved_outputs_verdict,
)


class ResultsReported(CheckKind):
    kind = "results_reported"

    def run(self, check: ReportedSpec, context: CheckContext) -> Verdict:
        passed, evidence = True, []
        for check_id in check.params.models:
            shown = reported_line(context, check_id, context.chosen.get(check_id, []))
            if shown:
                evidence.append(shown)
            else:
                passed = False
                evidence.append(f"{check_id}: no result of this model appears in the notebook's outputs")
        return Verdict(passed, evidence)

    def static(self, check: ReportedSpec, context: CheckContext) -> Verdict | None:
        found = referenced_static_calls(check, context)
        if found is not None:
            models, calls = found
            if any(call.cell in context.environment for call in calls):
                return environment_verdict(check, context, models, calls)
            if context.saved_outputs_only and all(number_shown(context, call.cell) for call in calls):
                return saved_outputs_verdict(f"results are printed after cell {max(c.cell for c in calls)}")
        if context.saved_outputs_only and (cell := _histories_plotted(check, context)) is not None:
            return saved_outputs_verdict(f"each model's training history is plotted (cell {cell})")
        return None


def _histories_plotted(check: ReportedSpec, context: CheckContext) -> int | None:
    """Read from code and saved figures: the last cell of a figure drawn from each referenced model's training
    history after its fit (a notebook that compares the curves, not test numbers), or None."""
    plotted = []
    for ref in check.params.models:
        chosen = context.chosen_static.get(ref, [])[:1]
        fit_cells = [
            c.cell for m in chosen for c in context.evidence.static.calls_on(m.variable, "fit") if c.cell_type == "code"
        ]
        plotted.append(_history_plot(context, fit_cells))
    return max(plotted) if plotted and None not in plotted else None


def reported_line(
    context: CheckContext,
    check_id: str,
    models: list[Model],
    evaluations: list | None = None,
    fits: list[Fit] | None = None,
) -> str | None:
    """The line saying where a result of ``models`` is shown, or None; ``evaluations`` and ``fits``: the
    results and the training histories to look for, when only some of the models' count (one run's)."""
    facts = context.facts
    if fits is None:
        fits = [f for m in models for f in fits_of(facts, m)]
    for model in models:
        kept = held_out(facts, model)  # the held-out result first, as a reader looks for it
        first = {id(e) for e in kept}
        measured = kept + [e for e in evaluations_of(facts, model) if id(e) not in first]
        for evaluation in measured if evaluations is None else evaluations:
            for name, value in evaluation.metrics.items():
                cell = _printed(value, context.evidence.outputs, after=evaluation.cell, logged=_framework_cells(facts))
                if cell is not None:
                    return f"{check_id}: {name} {value:.4f} appears in the output of cell {cell}"
            if (shown := _budget_scaled(context, evaluation)) is not None:
                return f"{check_id}: {shown}"
    if models and _history_plot(context, [f.cell for f in fits if f.cell is not None]) is not None:
        return f"{check_id}: its training history is plotted"
    if (cell := _history_shown(context, fits)) is not None:
        return f"{check_id}: its final training-history values are shown in the output of cell {cell}"
    unmeasured = [e for m in models for e in evaluations_of(facts, m) if not e.metrics and e.cell is not None]
    cell = next((e.cell for e in unmeasured if number_shown(context, e.cell)), None)
    if cell is not None:
        return f"{check_id}: a result is printed after its evaluation in cell {cell} (its metric is computed by the student's code)"
    return None


def _budget_scaled(context: CheckContext, evaluation) -> str | None:
    """A budgeted loop's accuracy as the notebook printed it: its correct predictions over the whole
    dataset's length (``correct / len(loader.dataset)``), of which the fast budget evaluated a part."""
    accuracy, whole = evaluation.metrics.get("accuracy"), evaluation.dataset_samples
    if (
        accuracy is None
        or not evaluation.budgeted
        or not whole
        or not evaluation.samples
        or whole <= evaluation.samples
    ):
        return None
    value = accuracy * evaluation.samples / whole
    cell = _printed(value, context.evidence.outputs, after=evaluation.cell, logged=_framework_cells(context.facts))
    if cell is None:
        return None
    return (
        f"accuracy {value:.4f} appears in the output of cell {cell} (its correct predictions over all {whole:,} "
        f"samples of the dataset, of which the fast budget evaluated {evaluation.samples:,})"
    )


def _printed(
    value: float, outputs: tuple[tuple[int, str], ...], after: int | None, logged: frozenset[int] = frozenset()
) -> int | None:
    """The first cell at or after ``after`` whose output shows ``value`` rounded to the decimals
    printed, as a fraction or a percentage (0.3594, 35.94, 35.9375 for 0.359375), where that
    precision is not one of so many numbers that some would match by chance (``_crowded``).
    ``logged``: cells where the framework trained or evaluated (their progress logs are its own)."""
    if value in (0.0, 1.0):
        return None
    shown = [(cell, text) for cell, text in outputs if after is None or cell >= after]
    for cell, text in shown:
        for whole, fraction in _DECIMAL.findall(text):
            scale = _scale_shown(value, whole, fraction)
            if scale is not None and not _crowded(shown, len(fraction), scale, logged):
                return cell
    return None


def _scale_shown(value: float, whole: str, fraction: str) -> int | None:
    """1 when ``whole.fraction`` is ``value`` rounded to its decimals (at least two), 100 when it is
    ``value`` as a percentage (at least one decimal), else None."""
    printed, half_step = float(f"{whole}.{fraction}"), 0.5 * 10.0 ** -len(fraction)
    for scale, fewest in ((1, 2), (100, 1)):
        if len(fraction) >= fewest and abs(printed - value * scale) <= half_step * (1 + 1e-9):
            return scale
    return None


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
            if cell in logged and PROGRESS_LOG.search(line):
                continue
            for whole, fraction in _DECIMAL.findall(line):
                if len(fraction) >= decimals and int(whole) <= scale:
                    seen.add(int(whole) * 10**decimals + int(fraction[:decimals]))
            if len(seen) > CROWDED * possible:
                return True
    return False


def number_flood(facts: Facts, outputs: tuple[tuple[int, str], ...], static: StaticFacts | None = None) -> str | None:
    """Why the outputs look like a dump of numbers meant to contain any metric, or None: over
    ``CROWDED`` of all four-decimal values between 0 and 1, printed outside the framework's logs.
    ``static``: for a notebook not run, whose saved logs no probe saw, the code cells that call fit,
    evaluate or predict are the ones whose progress logs are the framework's (a long training log is not
    a dump)."""
    logged = _framework_cells(facts)
    if static is not None:
        logged |= {call.cell for call in static.calls if call.cell_type == "code"}
    if _crowded(list(outputs), 4, 1, logged):
        return f"the outputs print over {CROWDED:.0%} of all the numbers 0.0000 to 0.9999, so any metric appears among them"
    return None


def _framework_cells(facts: Facts) -> frozenset[int]:
    """Cells where the probe saw a fit or an evaluation: the ones whose progress logs are the framework's."""
    return frozenset(r.cell for r in (*facts.fits, *facts.evaluations) if r.cell is not None)


def _history_plot(context: CheckContext, fit_cells: list[int]) -> int | None:
    """The cell of a figure drawn after the model trained in ``fit_cells`` (in a later cell, or in its cell
    after the fit), from its training history (or a table made of it)."""
    if not fit_cells:
        return None
    code = dict(context.evidence.code_cells)
    names = ["history", *_names_from_history(code.values())]
    return next(
        (
            cell
            for cell in context.evidence.images
            if (cell > min(fit_cells) or (cell == min(fit_cells) and _plotted_after_fit(code.get(cell, ""))))
            and any(re.search(rf"\b{re.escape(n)}\b", code.get(cell, "")) for n in names)
        ),
        None,
    )


def _plotted_after_fit(source: str) -> bool:
    """In a cell that trains and plots: the plotting comes after the fit (``fit(...)`` then ``plt.plot``).
    A cell that trained without a ``fit(`` of its own called a function defined elsewhere to train
    (``history = train_model(config)``), which returned before the cell went on: its figure, drawn
    from a history, is drawn after."""
    fit = re.search(r"\.fit\s*\(", source)
    if fit is None:
        return True
    plot = re.search(r"\b(?:plt|pyplot|sns|ax\w*)\.\w+\s*\(|\.plot\s*\(", source[fit.end() :])
    return plot is not None


def _names_from_history(sources) -> set[str]:
    """Variables assigned from a training history: ``frame = pd.DataFrame(history.history)``."""
    found = set()
    for source in sources:
        for match in re.finditer(r"^\s*([A-Za-z_]\w*)\s*=\s*(.+)$", source, re.MULTILINE):
            if "history" in match.group(2):
                found.add(match.group(1))
    return found


def _history_shown(context: CheckContext, fits: list[Fit]) -> int | None:
    """The cell whose output shows a run's final training-history values (a printed table), after its
    fit: in a later cell, or in the fit's own cell past the framework's progress log (a loop that
    trains and then prints each history's last values)."""
    logged = _framework_cells(context.facts)
    for fit in fits:
        finals = [values[-1] for values in fit.history.values() if values and values[-1] not in (0.0, 1.0)]
        if not finals or fit.cell is None:
            continue
        outputs = tuple(
            (cell, _without_progress_log(text) if cell == fit.cell else text)
            for cell, text in context.evidence.outputs
            if cell >= fit.cell
        )
        cells = [_printed(value, outputs, after=fit.cell, logged=logged) for value in finals]
        if all(cell is not None for cell in cells):
            return max(cells)
    return None


KERAS_QUIET_LOG = re.compile(r"^\s*\d+/\d+\s+-\s")  # verbose=2: "1875/1875 - 2s - loss: 0.29 - accuracy: 0.91"


def _without_progress_log(text: str) -> str:
    return "\n".join(
        line for line in text.splitlines() if not PROGRESS_LOG.search(line) and not KERAS_QUIET_LOG.search(line)
    )
