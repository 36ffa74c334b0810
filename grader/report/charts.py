"""Inline SVG charts, drawn in Python: no script, no network, a <title> and <desc> for screen readers.

Every chart also writes its numbers as text next to the bars, so nothing depends on colour, and
the pages show the same numbers in a table.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

_FONT = "system-ui,-apple-system,'Segoe UI',Roboto,sans-serif"
_BAR = "#0969da"
_RANGE = "#59636e"
_GRID = "#d1d9e0"
_INK = "#1f2328"


@dataclass(frozen=True)
class Bar:
    """One row of a horizontal bar chart; ``low``/``high`` draw a range line (min to max)."""

    label: str
    value: float
    text: str
    low: float | None = None
    high: float | None = None


def histogram(ident: str, counts: list[int], labels: list[str], title: str, description: str, x_label: str) -> Markup:
    """Vertical bars, one per bin, with the count written above each bar."""
    width, height = 600, 270
    left, right, top, bottom = 36, 8, 22, 54
    plot_w, plot_h = width - left - right, height - top - bottom
    ticks = _ticks(max(counts, default=0))
    peak = ticks[-1]
    step = plot_w / max(len(counts), 1)
    parts = [_open(ident, width, height, title, description)]
    for tick in ticks:
        y = top + plot_h - plot_h * tick / peak
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{_GRID}"/>')
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="13" fill="{_RANGE}">{tick}</text>'
        )
    for index, (count, label) in enumerate(zip(counts, labels)):
        x = left + index * step + 3
        bar_h = plot_h * count / peak
        y = top + plot_h - bar_h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{step - 6:.1f}" height="{bar_h:.1f}" fill="{_BAR}" rx="2">'
            f"<title>{escape(label)}: {count}</title></rect>"
        )
        if count:
            parts.append(
                f'<text x="{x + (step - 6) / 2:.1f}" y="{y - 5:.1f}" text-anchor="middle" font-size="15" font-weight="600" fill="{_INK}">{count}</text>'
            )
        parts.append(
            f'<text x="{x + (step - 6) / 2:.1f}" y="{top + plot_h + 17}" text-anchor="middle" font-size="12.5" fill="{_RANGE}">{escape(label)}</text>'
        )
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="{_RANGE}"/>')
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle" font-size="13.5" fill="{_RANGE}">{escape(x_label)}</text>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(ident: str, bars: list[Bar], title: str, description: str, scale: float = 100.0) -> Markup:
    """Horizontal bars from 0 to ``scale`` with an optional min-max range line and a value label."""
    longest = max((len(_clip(bar.label, 28)) for bar in bars), default=4)
    label_w, value_w, row_h, top = min(230, 24 + 7.6 * longest), 180, 32, 8
    width = 720
    plot_w = width - label_w - value_w
    height = top * 2 + row_h * max(len(bars), 1)
    parts = [_open(ident, width, height, title, description)]
    for fraction in (0, 0.5, 1):
        x = label_w + plot_w * fraction
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{height - top}" stroke="{_GRID}"/>')
    for index, bar in enumerate(bars):
        y = top + index * row_h
        share = max(0.0, min(bar.value / scale, 1.0)) if scale else 0.0
        parts.append(
            f'<text x="{label_w - 8:.1f}" y="{y + row_h / 2 + 4:.1f}" text-anchor="end" font-size="13" fill="{_INK}">{escape(_clip(bar.label, 28))}</text>'
        )
        ranged = bar.low is not None and bar.high is not None and scale
        bar_y, bar_h = (y + 6, row_h - 17) if ranged else (y + 8, row_h - 16)
        parts.append(
            f'<rect x="{label_w:.1f}" y="{bar_y}" width="{plot_w:.1f}" height="{bar_h}" fill="#eef1f4" rx="2"/>'
        )
        parts.append(
            f'<rect x="{label_w:.1f}" y="{bar_y}" width="{plot_w * share:.1f}" height="{bar_h}" fill="{_BAR}" rx="2">'
            f"<title>{escape(bar.label)}: {escape(bar.text)}</title></rect>"
        )
        if ranged:
            x1 = label_w + plot_w * max(0.0, min(bar.low / scale, 1.0))
            x2 = label_w + plot_w * max(0.0, min(bar.high / scale, 1.0))
            line = bar_y + bar_h + 4
            parts.append(
                f'<path d="M{x1:.1f} {line - 3:.1f}V{line + 3:.1f}M{x1:.1f} {line:.1f}H{x2:.1f}M{x2:.1f} {line - 3:.1f}V{line + 3:.1f}" '
                f'stroke="{_RANGE}" stroke-width="1.2" fill="none"/>'
            )
        parts.append(
            f'<text x="{label_w + plot_w + 8:.1f}" y="{y + row_h / 2 + 4:.1f}" font-size="12.5" fill="{_INK}">{escape(bar.text)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _open(ident: str, width: int, height: int, title: str, description: str) -> str:
    return (
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="{ident}-t {ident}-d" font-family="{_FONT}" preserveAspectRatio="xMinYMin meet">'
        f'<title id="{ident}-t">{escape(title)}</title><desc id="{ident}-d">{escape(description)}</desc>'
    )


def _ticks(peak: int) -> list[int]:
    """0 up to the first multiple of the step at or above ``peak``, about four steps."""
    step = max(1, -(-peak // 4))
    top = max(step, -(-peak // step) * step)
    return list(range(0, top + 1, step))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
