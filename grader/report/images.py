"""Plots a notebook drew, as ``data:`` URIs the reports show inline (their CSP allows ``img-src data:``).

The image bytes are untrusted: only PNG and JPEG are taken (an SVG could carry script), the
base64 must decode strictly, the bytes must start with that format's signature, and each image
and each cell is size-capped, so a report stays small and a forged output shows as nothing.
"""

from __future__ import annotations

import base64
import binascii

FORMATS = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
MAX_IMAGE_BYTES = 1_500_000
MAX_PER_CELL = 3


def output_images(cell: dict, limit: int = MAX_PER_CELL) -> tuple[str, ...]:
    """The cell's PNG/JPEG outputs as data URIs, at most ``limit``."""
    found = []
    for output in cell.get("outputs", []) or []:
        if output.get("output_type") not in ("display_data", "execute_result"):
            continue
        data = output.get("data", {}) or {}
        for mime, signature in FORMATS.items():
            uri = _data_uri(mime, signature, data.get(mime))
            if uri:
                found.append(uri)
                break
        if len(found) >= limit:
            break
    return tuple(found)


def _data_uri(mime: str, signature: bytes, value) -> str | None:
    text = "".join(value) if isinstance(value, list) else value
    if not isinstance(text, str) or len(text) > MAX_IMAGE_BYTES * 4 // 3 + 4096:
        return None
    compact = "".join(text.split())
    try:
        raw = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not raw.startswith(signature) or len(raw) > MAX_IMAGE_BYTES:
        return None
    return f"data:{mime};base64,{compact}"
