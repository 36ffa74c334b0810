"""Output limits: how much of a notebook's outputs the grader keeps while it runs.

A cell printing megabytes, or printing in an endless loop until its timeout, must not grow the
grader's memory. Each message from the kernel is cut to what is left of its output's allowance
before nbclient stores it (``OutputBudget.trim``), and a cell that lost text ends with a marker
saying how much (``OutputBudget.marker``). Three bounds:
- one output's text (a stream of one cell, a text/plain result, a traceback): ``output_size``;
- one rich output (an image, HTML): ``RICH_FACTOR`` times that;
- everything the notebook shows: ``notebook_size``; past it, outputs are dropped.
Once a stream has used half its allowance, a progress bar's in-place redraws are dropped, so that
the lines a cell prints after a long training log (its test accuracy) are kept.
Widget messages (``comm_*``) are dropped: the grader has no use for widget state.
The messages themselves are bounded before they reach Python: the probe sends a large write to
stdout in pieces and drops display data over ``RICH_FACTOR`` times ``output_size`` (with a
marker), and the runner's sockets refuse a message over ``MAX_MESSAGE`` bytes (zmq then cuts that
kernel's output channel for the rest of the run: only code that bypasses the probe's guards does
that, and the run then says its facts could not be read).
"""

from __future__ import annotations

import json
from typing import Any

import nbformat

MARKER = "[output truncated by the grader: {count:,} bytes]"
RICH_FACTOR = 10
MAX_MESSAGE = 16 << 20  # bytes: larger messages from the kernel are refused by the socket
TEXT_TYPES = ("text/plain", "text/markdown", "text/latex")
_RICH = ("display_data", "execute_result", "update_display_data")
_METADATA_LIMIT = 10_000
SAVED_TEXT = "grader_saved_output_text"  # cell metadata: the text the submitted notebook showed
MAX_SAVED_TEXT = 20_000  # characters kept of one cell's saved outputs


def size_of(value: Any) -> int:
    """Bytes of a text (UTF-8) or of a JSON value."""
    if isinstance(value, str):
        return len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))
    try:
        return len(json.dumps(value))
    except (TypeError, ValueError):
        return 0


def _redraw(text: str) -> bool:
    """A write that redraws the terminal's current line in place (a progress bar's update: ``\\r`` or
    backspaces, no new line); an epoch's last update ends its line and is no redraw."""
    return text[:1] in ("\r", "\b") and "\n" not in text


class OutputBudget:
    def __init__(self, output_size: int, notebook_size: int):
        self.output_size, self.left = int(output_size), int(notebook_size)
        self.streams: dict[tuple[int, str], int] = {}  # (cell, stdout/stderr) -> bytes kept
        self.dropped: dict[int, int] = {}  # cell -> bytes cut

    def trim(self, message: dict, cell: int) -> bool:
        """Cuts ``message``'s content in place; False when the whole message is to be ignored."""
        kind = message.get("msg_type") or message.get("header", {}).get("msg_type", "")
        content = message.get("content")
        if not isinstance(content, dict):
            return True
        if kind.startswith("comm"):
            return False  # widget state: not an output the grader shows
        if kind == "stream":
            key = (cell, str(content.get("name", "stdout")))
            text = content.get("text")
            if isinstance(text, str):
                if _redraw(text) and self.streams.get(key, 0) > self.output_size // 2:
                    self._drop(cell, size_of(text))  # a progress bar's redraws must not crowd out what follows
                    return False
                room = min(self.output_size - self.streams.get(key, 0), self.left)
                content["text"] = self._cut(text, room, cell)
                kept = size_of(content["text"])
                self.streams[key] = self.streams.get(key, 0) + kept
                self.left -= kept
                return bool(content["text"]) or not text  # nothing left: nothing to store
        elif kind in _RICH:
            return self._trim_rich(content, cell)
        elif kind == "error":
            self._trim_error(content, cell)
        return True

    def marker(self, cell: int) -> Any | None:
        """The output that says what ``cell`` lost (once), or None."""
        count = self.dropped.pop(cell, 0)
        if not count:
            return None
        return nbformat.v4.new_output("stream", name="stderr", text="\n" + MARKER.format(count=count) + "\n")

    # -----------------------------------------------------------------------------------------

    def _drop(self, cell: int, count: int) -> None:
        if count:
            self.dropped[cell] = self.dropped.get(cell, 0) + count

    def _cut(self, text: str, room: int, cell: int) -> str:
        if room <= 0:
            self._drop(cell, size_of(text))
            return ""
        if len(text) <= room and size_of(text) <= room:
            return text
        kept = text[:room]
        while size_of(kept) > room:  # multi-byte characters: fewer of them fit
            kept = kept[: max(0, len(kept) - max(1, (size_of(kept) - room) // 4))]
        self._drop(cell, size_of(text) - size_of(kept))
        return kept

    def _trim_rich(self, content: dict, cell: int) -> bool:
        data = content.get("data")
        if not isinstance(data, dict):
            return True
        kept = {}
        for mime, value in data.items():
            size = size_of(value)
            limit = self.output_size if mime in TEXT_TYPES else self.output_size * RICH_FACTOR
            room = min(limit, self.left)
            if mime == "text/plain" and isinstance(value, str):
                value = self._cut(value, room, cell)
            elif size > room:
                self._drop(cell, size)
                continue
            kept[mime] = value
            self.left -= size_of(value)
        content["data"] = kept
        if size_of(content.get("metadata", {})) > _METADATA_LIMIT:
            content["metadata"] = {}
        return bool(kept) or not data

    def _trim_error(self, content: dict, cell: int) -> None:
        content["ename"] = self._cut(str(content.get("ename", "")), 1000, cell)
        content["evalue"] = self._cut(str(content.get("evalue", "")), min(self.output_size, max(self.left, 1000)), cell)
        traceback = content.get("traceback")
        if not isinstance(traceback, list):
            content["traceback"] = []
            return
        room, kept = min(self.output_size, max(self.left, 2000)), []
        for line in reversed(traceback):  # the last frames name the student's line and the error
            line = str(line)
            size = size_of(line)
            if size > room:
                self._drop(cell, size)
                continue
            kept.append(line)
            room -= size
        content["traceback"] = kept[::-1]
        self.left -= sum(map(size_of, kept)) + size_of(content["evalue"])


def output_text(outputs: Any) -> str:
    """The text of a cell's outputs: streams, and text/plain of results and displays."""
    parts = []
    for output in outputs or []:
        if not isinstance(output, dict):
            continue
        text = output.get("text") or (output.get("data") or {}).get("text/plain", "")
        parts.append("".join(map(str, text)) if isinstance(text, list) else str(text))
    return "\n".join(part for part in parts if part)


def keep_saved_text(cell: Any) -> None:
    """Keeps the text of what the submitted cell showed in its metadata before its outputs are cleared
    (a key the student may have set is replaced): when the grading environment stops the cell, the
    saved outputs are the only record of what it did, unverified."""
    text = output_text(cell.get("outputs"))[:MAX_SAVED_TEXT]
    cell["metadata"].pop(SAVED_TEXT, None)
    if text:
        cell["metadata"][SAVED_TEXT] = text


def saved_text(cell: Any) -> str:
    """What the submitted cell showed, kept by ``keep_saved_text`` ("" when it showed nothing)."""
    text = (cell.get("metadata") or {}).get(SAVED_TEXT, "")
    return text if isinstance(text, str) else ""
