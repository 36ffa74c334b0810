"""The executed notebook as one safe, self-contained HTML page, so a reader sees exactly what ran.

nbconvert's HTML exporter (its ``basic`` template: the cells, without a page around them)
renders the notebook; everything it produced then goes through nh3 (ammonia), because markdown
cells and HTML outputs are the student's own HTML. Kept: text, tables, code highlighting,
images as ``data:`` URIs, http(s) links. Removed: scripts, ``<style>``, event handlers, iframes,
forms, ``javascript:`` and any other URL. SVG outputs become ``data:`` images, where SVG cannot
run script. Very long text outputs are cut, keeping their start and end.
"""

from __future__ import annotations

import base64
import copy
import logging
import re
import secrets
from functools import lru_cache
from typing import Any

import nh3
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from grader.report.csp import CSP

MAX_OUTPUT_CHARS = 20_000
MAX_OUTPUT_LINES = 400

_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "caption",
    "code",
    "col",
    "colgroup",
    "dd",
    "del",
    "details",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "mark",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "samp",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "tt",
    "u",
    "ul",
    "var",
}
_ATTRIBUTES = {
    "*": {"class", "id", "title", "lang", "dir"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "ol": {"start"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
}
_CLEAN_CONTENT = {
    "script",
    "style",
    "iframe",
    "object",
    "embed",
    "noscript",
    "template",
    "textarea",
    "select",
    "svg",
    "math",
}
_DATA_IMAGE = re.compile(r"^data:image/(png|jpe?g|gif|webp|svg\+xml);base64,[A-Za-z0-9+/=\s]*$", re.IGNORECASE)
_WEB_LINK = re.compile(r"^(https?:|mailto:|#)", re.IGNORECASE)
_CELL_ID = re.compile(r"^cell-id=grader-[0-9a-f]{16}-\d+$")
_IMG_WITHOUT_SOURCE = re.compile(r"<img(?![^>]*\ssrc=)[^>]*>")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")

_ENV = Environment(loader=PackageLoader("grader", "report/templates"), autoescape=select_autoescape(["html"]))
_ENV.globals["csp"] = CSP


def _keep_attribute(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "id":  # only the cell anchors we made; the notebook's own ids could fake them
        return value if _CELL_ID.match(value) else None
    if attribute == "src":
        return value if tag == "img" and _DATA_IMAGE.match(value) else None
    if attribute == "href":
        return value if _WEB_LINK.match(value.strip()) else None
    return value


@lru_cache(maxsize=1)
def _cleaner():
    return nh3.Cleaner(
        tags=_TAGS,
        clean_content_tags=_CLEAN_CONTENT,
        attributes=_ATTRIBUTES,
        attribute_filter=_keep_attribute,
        url_schemes={"http", "https", "mailto", "data"},
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )


def sanitize(fragment: str) -> str:
    """Only the allowed tags and attributes; no script, event handler, iframe or foreign URL.

    An image whose source was not a ``data:`` image is dropped altogether.
    """
    return _IMG_WITHOUT_SOURCE.sub("", _cleaner().clean(fragment))


@lru_cache(maxsize=1)
def _exporter():
    from nbconvert import HTMLExporter

    quiet = logging.getLogger("grader.report.nbconvert")
    quiet.setLevel(logging.ERROR)  # not "alternative text is missing" for every student's image
    return HTMLExporter(template_name="basic", exclude_anchor_links=True, log=quiet)


def prepared(notebook: Any, nonce: str = "0" * 16) -> Any:
    """A copy ready to convert: cells numbered like the grader numbers them, outputs made safe to show.

    Each cell's id becomes ``grader-<nonce>-<index>``: a notebook cannot know the nonce, so it
    cannot plant an element that takes the place of a cell's anchor.
    """
    import nbformat

    notebook = nbformat.from_dict(copy.deepcopy(dict(notebook)))
    notebook.setdefault("metadata", {}).pop("widgets", None)
    notebook["nbformat"], notebook["nbformat_minor"] = 4, max(5, int(notebook.get("nbformat_minor", 0) or 0))
    for index, cell in enumerate(notebook.get("cells", [])):
        cell["id"] = f"grader-{nonce}-{index}"
        if cell.get("cell_type") == "raw":
            _raw_as_text(cell)
        if "outputs" in cell:
            outputs = merged_streams(cell.get("outputs") or [])
            for output in outputs:
                _prepare_output(output)
            cell["outputs"] = [
                o for o in outputs if o.get("output_type") not in ("display_data", "execute_result") or o.get("data")
            ]
    return notebook


def _raw_as_text(cell: dict) -> None:
    """A raw cell is shown as the plain text it is (nbconvert would paste it in as HTML)."""
    source = _joined(cell.get("source", ""))
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", source)), default=0) + 1)
    cell["cell_type"] = "markdown"
    cell["source"] = f"{fence}text\n{source}\n{fence}"
    cell.pop("attachments", None)


def merged_streams(outputs: list) -> list:
    """Consecutive pieces of the same stream joined, as a terminal would show them (\\r and \\b applied)."""
    merged: list = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (
            output.get("output_type") == "stream"
            and previous is not None
            and previous.get("output_type") == "stream"
            and previous.get("name") == output.get("name")
        ):
            previous["text"] = _joined(previous.get("text", "")) + _joined(output.get("text", ""))
        else:
            merged.append(copy.deepcopy(output))
    for output in merged:
        if output.get("output_type") == "stream":
            output["text"] = terminal_text(_joined(output.get("text", "")))
    return merged


def terminal_text(text: str) -> str:
    """What a terminal ends up showing: a carriage return starts the line over, a backspace erases."""
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if "\r" in line:
            line = next((part for part in reversed(line.split("\r")) if part), "")
        while "\b" in line:
            erased = re.sub(r"[^\b]\b", "", line)
            line = erased if erased != line else line.replace("\b", "")
        lines.append(line)
    return "\n".join(lines)


def _prepare_output(output: dict) -> None:
    if output.get("output_type") == "stream":
        output["text"] = cut(_joined(output.get("text", "")))
    data = output.get("data")
    if not isinstance(data, dict):
        return
    if any(kind.startswith("image/") for kind in data) and "alt" not in output.get("metadata", {}):
        described = _joined(data.get("text/plain", "")).strip("<> \n")[:200]
        output.setdefault("metadata", {})["alt"] = described or "an image output"
    for kind in [k for k in data if k.startswith("application/") and "json" not in k and k != "application/pdf"]:
        data.pop(kind)
    if "text/plain" in data:
        data["text/plain"] = cut(_joined(data["text/plain"]))
    svg = data.pop("image/svg+xml", None)
    if svg is not None:
        encoded = base64.b64encode(_joined(svg).encode("utf-8")).decode("ascii")
        data.setdefault("text/html", f'<img src="data:image/svg+xml;base64,{encoded}" alt="SVG output">')


def cut(text: str, max_chars: int = MAX_OUTPUT_CHARS, max_lines: int = MAX_OUTPUT_LINES) -> str:
    """Long output shortened to its start and end, saying how much was left out."""
    lines = text.splitlines(keepends=True)
    if len(text) <= max_chars and len(lines) <= max_lines:
        return text
    head = "".join(lines[: max_lines // 2])[: max_chars // 2]
    tail = "".join(lines[-(max_lines // 4) :])[-(max_chars // 4) :]
    left_out = len(text) - len(head) - len(tail)
    return f"{head}\n… {left_out:,} characters left out …\n{tail}"


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _joined(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def notebook_body(notebook: Any) -> Markup:
    """The notebook's cells as sanitised HTML, each cell labelled and anchored as ``#cell-N``."""
    nonce = secrets.token_hex(8)
    body, _ = _exporter().from_notebook_node(prepared(notebook, nonce))
    cell_div = re.compile(rf'<div class="cell [^"]*" id="cell-id=grader-{nonce}-(\d+)">')
    labelled = cell_div.sub(
        lambda m: (
            m.group(0).replace(f"cell-id=grader-{nonce}-{m.group(1)}", f"cell-{m.group(1)}")
            + f'<p class="cell-label">cell {m.group(1)}</p>'
        ),
        sanitize(body),
    )
    return Markup(re.sub(r' id="cell-id=grader-[0-9a-f]{16}-\d+"', "", labelled))


def notebook_page(notebook: Any, student: str, title: str, subtitle: str = "", report_href: str = "") -> str:
    """A whole page around the notebook, with the same Content-Security-Policy as the reports.

    A notebook nbconvert cannot render gets a page that says so, rather than stopping the batch.
    """
    try:
        body, error = notebook_body(notebook), ""
    except Exception as exc:  # one student's odd notebook must not stop the other reports
        body, error = Markup(""), f"{type(exc).__name__}: {exc}"
    return _page(body, error, student, title, subtitle, report_href)


def unrendered_page(error: str, student: str, title: str, subtitle: str = "", report_href: str = "") -> str:
    """The page without the notebook, saying why it could not be rendered."""
    return _page(Markup(""), error, student, title, subtitle, report_href)


def _page(body: Markup, error: str, student: str, title: str, subtitle: str, report_href: str) -> str:
    return _ENV.get_template("notebook.html").render(
        body=body,
        error=error,
        student=student,
        title=title,
        subtitle=subtitle,
        report_href=report_href,
        highlight_css=Markup(_highlight_css()),
    )


@lru_cache(maxsize=1)
def _highlight_css() -> str:
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(style="default").get_style_defs(".highlight")
