"""The executed notebook's page, rendered in a child process with a time and a memory limit.

A notebook's outputs are the student's (saved ones with ``--no-run``, the kernel's otherwise):
markdown built to make a parser backtrack or recurse, or outputs that balloon when converted,
must cost one page, not the grader. nbconvert therefore runs in one long-lived child process (its
import costs about a second, a page a fraction of one; a batch that runs notebooks starts the child
while the kernels run, ``warm_up``), one page at a time, under an address
space limit (``MEMORY``) and a time limit per page (``TIMEOUT``); a child that fails, overruns or
dies is ended and the next page starts a new one. ``RenderFailed`` says what went wrong, for the
page's caller to flag.

The child reads requests and writes pages as length-prefixed JSON on its stdin and stdout.
"""

from __future__ import annotations

import atexit
import json
import os
import resource
import select
import struct
import subprocess
import sys
import threading
from typing import Any

TIMEOUT = 120.0  # seconds for one page (nbconvert takes well under one for a homework notebook)
START_TIMEOUT = 120.0  # seconds for the child to import nbconvert, on a loaded machine
MEMORY = 1 << 30  # address space of the child: nbconvert needs under 100 MB for a homework notebook
MAX_PAGE = 64 << 20
_HEADER = struct.Struct(">Q")
_EMPTY_NOTEBOOK = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
_CHILD = "from grader.report.page_process import serve; serve()"


class RenderFailed(Exception):
    """The page could not be rendered within the limits; the message says why. ``page``: the plain
    page that says so, when the caller made one."""

    page = ""


def render_page(notebook: Any, **page: str) -> str:
    """``notebook_page(notebook, **page)`` as the child renders it."""
    return _RENDERER.render({"notebook": dict(notebook), **page})


def warm_up() -> None:
    """Starts the child now, in the background, so that the first page does not wait for
    nbconvert's import: for a caller about to run notebooks, whose kernels leave the grader idle
    meanwhile."""
    threading.Thread(target=_RENDERER.start_quietly, name="page-renderer-warm-up", daemon=True).start()


class _Renderer:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.process: subprocess.Popen | None = None

    def render(self, request: dict) -> str:
        with self.lock:
            try:
                if self.process is None or self.process.poll() is not None:
                    self._start()
                _send(self.process.stdin, request)
                answer = _receive(self.process.stdout, TIMEOUT)
            except RenderFailed:
                self._stop()
                raise
            except (OSError, ValueError) as exc:
                self._stop()
                raise RenderFailed(f"the page renderer failed ({type(exc).__name__}: {exc})") from exc
            if "error" in answer:  # a child that ran out of memory or recursion is not trusted with the next page
                self._stop()
                raise RenderFailed(str(answer["error"])[:300])
        return str(answer["page"])

    def start_quietly(self) -> None:
        """Starts the child unless it runs; a failure waits for the first page, which reports it."""
        with self.lock:
            if self.process is None or self.process.poll() is not None:
                try:
                    self._start()
                except (RenderFailed, OSError, ValueError):
                    self._stop()

    def _start(self) -> None:
        self._stop()
        self.process = subprocess.Popen(
            [sys.executable, "-c", _CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            preexec_fn=_limit_memory,
        )
        ready = _receive(self.process.stdout, START_TIMEOUT)
        if not ready.get("ready"):
            raise RenderFailed("the page renderer could not start")

    def _stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def close(self) -> None:
        with self.lock:
            self._stop()


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def _send(stream, message: dict) -> None:
    data = json.dumps(message).encode("utf-8")
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _receive(stream, timeout: float) -> dict:
    """One message, or RenderFailed when none comes within ``timeout`` seconds or the child died."""
    descriptor = stream.fileno()
    header = _read_exactly(descriptor, _HEADER.size, timeout)
    (size,) = _HEADER.unpack(header)
    if size > MAX_PAGE:
        raise RenderFailed(f"the rendered page is over {MAX_PAGE >> 20} MB")
    return json.loads(_read_exactly(descriptor, size, timeout))


def _read_exactly(descriptor: int, size: int, timeout: float) -> bytes:
    chunks, left = [], size
    while left:
        ready, _, _ = select.select([descriptor], [], [], timeout)
        if not ready:
            raise RenderFailed(f"rendering took longer than {timeout:g} s")
        chunk = os.read(descriptor, min(left, 1 << 20))
        if not chunk:
            raise RenderFailed(f"the page renderer ended while rendering (over its {MEMORY >> 20} MB memory limit?)")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def serve() -> None:
    """The child: renders one page per request until its stdin closes."""
    from grader.report.notebook_html import notebook_page

    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # what a library prints never mixes with the pages
    notebook_page(_EMPTY_NOTEBOOK, student="", title="")  # nbconvert's import and templates, before any page waits
    _send(answers, {"ready": True})
    while header := requests.read(_HEADER.size):
        (size,) = _HEADER.unpack(header)
        try:
            request = json.loads(requests.read(size))
            page = notebook_page(request.pop("notebook"), **request)
            answer = {"page": page}
        except Exception as exc:  # MemoryError, RecursionError included: this page's failure; the next is served
            answer = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
        _send(answers, answer)


_RENDERER = _Renderer()
atexit.register(_RENDERER.close)
