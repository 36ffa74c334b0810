"""The shape of a JSON document measured on its bytes, before anything parses it.

A hostile notebook can be small and still stop a parser: a thousand nested ``[`` make Python's
``json`` raise RecursionError, and 20 MB of ``[],`` become seven million list objects (gigabytes
once nbformat validates and copies them). ``measure`` finds the nesting depth, the number of
containers and of values outside strings, and the number of cells, with numpy passes over the
bytes, in about a second and
a bounded amount of memory (a few 1 MiB chunks at a time) for a 20 MB file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_DEPTH = 100  # real notebooks nest about 10 deep; plotly or widget state perhaps 20
MAX_CONTAINERS = 500_000  # lists and objects outside strings
MAX_VALUES = 5_000_000  # commas plus containers: a bound on the number of JSON values
MAX_CELLS = 20_000
_CHUNK = 1 << 20
_QUOTE, _BACKSLASH = ord('"'), ord("\\")
_STEP = np.zeros(256, dtype=np.int8)  # +1 opens a list or object, -1 closes one
_STEP[list(b"[{")], _STEP[list(b"]}")] = 1, -1
_COMMA = np.zeros(256, dtype=bool)
_COMMA[ord(",")] = True


@dataclass(frozen=True)
class Shape:
    depth: int
    containers: int
    values: int
    cells: int


def measure(raw: bytes) -> Shape:
    """The document's shape; strings never count (a ``[`` inside a string is text).

    A quote opens or closes a string unless an odd run of backslashes precedes it; the parity of
    the real quotes before a byte says whether it is inside a string. Chunk by chunk, carrying
    the depth, the string state and a run of backslashes across chunk borders.
    """
    depth = deepest = containers = commas = 0
    inside, run = 0, 0  # in a string at the chunk's start; backslashes just before it
    for start in range(0, len(raw), _CHUNK):
        chunk = np.frombuffer(raw, dtype=np.uint8, count=min(_CHUNK, len(raw) - start), offset=start)
        quotes = chunk == _QUOTE
        backslash = chunk == _BACKSLASH
        if run or backslash.any():
            counted = np.cumsum(backslash, dtype=np.int32)
            plain = ~backslash
            last_plain = np.maximum.accumulate(np.where(plain, counted, 0))
            runs = counted - last_plain + np.where(np.maximum.accumulate(plain), 0, run)  # backslashes ending at i
            quotes[1:] &= runs[:-1] % 2 == 0
            quotes[0] &= run % 2 == 0
            run = int(runs[-1])
        outside = (np.cumsum(quotes, dtype=np.int32) + inside) % 2 == 0
        inside = (int(np.count_nonzero(quotes)) + inside) % 2
        steps = np.where(outside, _STEP[chunk], 0).astype(np.int32)
        levels = np.cumsum(steps, dtype=np.int32) + depth
        deepest = max(deepest, int(levels.max(initial=depth)))
        depth = int(levels[-1])
        containers += int(np.count_nonzero(steps > 0))
        commas += int(np.count_nonzero(_COMMA[chunk] & outside))
    # Inside a string the key's quotes would be escaped (\"cell_type\"), so this counts keys only.
    return Shape(depth=deepest, containers=containers, values=containers + commas, cells=raw.count(b'"cell_type"'))


def shape_problem(shape: Shape) -> str | None:
    """Why a document of this shape is not parsed, in words a student can act on; None if it may be."""
    if shape.depth > MAX_DEPTH:
        return (
            f"the notebook's JSON is nested {shape.depth:,} levels deep, over the {MAX_DEPTH} limit"
            " (its metadata or outputs hold deeply nested lists); re-save it from Jupyter"
        )
    if shape.cells > MAX_CELLS:
        return f"the notebook has {shape.cells:,} cells, over the {MAX_CELLS:,} limit"
    if shape.containers > MAX_CONTAINERS or shape.values > MAX_VALUES:
        return (
            f"the notebook's JSON holds {shape.values:,} values in {shape.containers:,} lists and objects, over the"
            f" limits ({MAX_VALUES:,} values, {MAX_CONTAINERS:,} lists and objects); clear large outputs or"
            " metadata and re-save it"
        )
    return None
