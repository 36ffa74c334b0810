"""A student's written answer as safe HTML: markdown rendered with raw HTML off, quotes marked.

The answer is untrusted. markdown-it-py runs with ``html`` disabled, so ``<script>`` or an
``<img onerror>`` in the text comes out as visible, escaped text; links are kept only for
http(s) and mailto URLs, and images are not rendered at all. The words that earned a concept are
then wrapped in ``<mark>`` inside the rendered text nodes, so a mark never crosses a tag.
"""

from __future__ import annotations

import html
import re
from typing import Iterable

from markdown_it import MarkdownIt
from markupsafe import Markup, escape

_SAFE_LINK = re.compile(r"^(https?:|mailto:)", re.IGNORECASE)


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.disable("image")
    md.validateLink = lambda url: bool(_SAFE_LINK.match(url.strip()))

    def link_open(renderer, tokens, index, options, env):
        tokens[index].attrSet("rel", "nofollow noopener noreferrer")
        return renderer.renderToken(tokens, index, options, env)

    md.add_render_rule("link_open", link_open)
    return md


_MD = _markdown()

_TAG = re.compile(r"(<[^>]*>)")
_INLINE_TAGS = {"a", "em", "strong", "code", "s", "del", "mark"}
_TAG_NAME = re.compile(r"</?([a-zA-Z0-9]+)")
_MARKUP_CHARS = "*_~`"
_TITLE_LINE = re.compile(r"^[^\W\d_][^|\n]{0,58}[^\s.,;:!?|\\]\s*$")
_PROSE_LINE = re.compile(r"^[^\W\d_]")


def render_markdown(text: str) -> Markup:
    """Markdown to HTML with no raw HTML from the text: everything the student typed is escaped."""
    return Markup(_MD.render(_keep_title_lines(_without_heading_remains(text))))


_HEADING_REMAINS = re.compile(r"^\s*(?P<label>[^*_\n]{0,60}?)\s*(?P<closer>\*\*|__|\*|_)\s*$")
_LABEL_ONLY = re.compile(r"^\(?[^()]{0,40}\)?:?$")


def _without_heading_remains(text: str) -> str:
    """What extraction left of a bold heading: "**Answer 8 (discussion)**" gives "(discussion)**".

    A first line that only closes emphasis it never opened is the tail of the heading the answer
    marker sat in: its closer goes, and a bare label in brackets goes with it.
    """
    first, newline, rest = text.partition("\n")
    found = _HEADING_REMAINS.match(first)
    if not found or found.group("label").count(found.group("closer")[0]):
        return text
    label = found.group("label").strip()
    if not label or (_LABEL_ONLY.match(label) and label.startswith("(")):
        return rest.lstrip("\n") if newline else ""
    return label + newline + rest


def _keep_title_lines(text: str) -> str:
    """A short line without end punctuation, followed by more text, keeps its line break.

    Answers often start with a title line ("Bias-variance tradeoff") whose heading marks were
    taken off when the answer was extracted; markdown would run it into the first sentence.
    """
    lines = text.split("\n")
    for index, line in enumerate(lines[:-1]):
        if _TITLE_LINE.match(line) and _PROSE_LINE.match(lines[index + 1]):
            lines[index] = line.rstrip() + "\\"
    return "\n".join(lines)


def render_answer(text: str, quotes: Iterable[str] = ()) -> Markup:
    """The answer rendered as markdown, with each quote marked where it first appears."""
    return mark_quotes(render_markdown(text), quotes)


def mark_quotes(rendered: str, quotes: Iterable[str]) -> Markup:
    """Wrap the first occurrence of each quote in ``<mark>``, matching on the visible text only.

    ``rendered`` must be markdown-it output (attribute values and text escaped), so splitting on
    ``<...>`` separates tags from text exactly.
    """
    parts = _TAG.split(rendered)
    visible: list[str] = []
    offsets: list[int | None] = []
    length = 0
    for index, part in enumerate(parts):
        if index % 2:  # a tag: block tags separate words, inline tags do not
            name = _TAG_NAME.match(part)
            separator = "" if name and name.group(1).lower() in _INLINE_TAGS else "\n"
            visible.append(separator)
            offsets.append(None)
            length += len(separator)
        else:
            text = html.unescape(part)
            visible.append(text)
            offsets.append(length)
            length += len(text)
    plain = "".join(visible)
    spans = _merge(span for quote in quotes if (span := _find(plain, quote)))
    pieces: list[str] = []
    for index, part in enumerate(parts):
        start = offsets[index]
        if start is None:
            pieces.append(part)
            continue
        pieces.append(_mark_text(visible[index], start, spans))
    return Markup("".join(pieces))


def _find(plain: str, quote: str) -> tuple[int, int] | None:
    quote = quote.strip()
    if not quote:
        return None
    pattern = []
    for token in re.findall(r"\s+|[*_~`]+|.", quote, re.DOTALL):
        if token.isspace():
            pattern.append(r"\s+")
        elif token[0] in _MARKUP_CHARS:
            pattern.append(r"[*_~`]*")
        else:
            pattern.append(re.escape(token))
    found = re.search("".join(pattern), plain)
    if found is None or found.end() == found.start():
        return None
    return found.span()


def _merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _mark_text(text: str, start: int, spans: list[tuple[int, int]]) -> str:
    end = start + len(text)
    out: list[str] = []
    position = start
    for span_start, span_end in spans:
        if span_end <= position or span_start >= end:
            continue
        cut_start, cut_end = max(span_start, position), min(span_end, end)
        out.append(str(escape(text[position - start : cut_start - start])))
        out.append("<mark>" + str(escape(text[cut_start - start : cut_end - start])) + "</mark>")
        position = cut_end
    out.append(str(escape(text[position - start :])))
    return "".join(out)
