"""Split fingerprints: how long the probe takes to hash every row of an MNIST-sized array, the cost it
adds to each dataset load and each `fit`/`evaluate` it inspects (target: under 1 s for 60,000 rows;
the tests check what the hashes mean, this checks their speed).

    .venv/bin/python bench/hashing.py [--repeats 7]

Side by side in one run: the probe's vectorised hashes against hashing each row with hashlib.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time

import numpy as np
from rich.console import Console
from rich.table import Table

from grader.execute.probe.rows import normalised_row_hashes, row_hashes


def per_row_hashlib(array):
    return [hashlib.blake2b(row.tobytes(), digest_size=8).digest() for row in array.reshape(len(array), -1)]


def median_seconds(function, array, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(array)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    images = np.random.default_rng(0).integers(0, 256, (60000, 28, 28), dtype=np.uint8)
    scaled = images / 255.0
    baseline = median_seconds(per_row_hashlib, scaled, args.repeats)
    table = Table(title=f"Hashing 60,000 rows of 28x28, median of {args.repeats}")
    for column in ("what", "seconds", "target", "vs hashlib per row"):
        table.add_column(column, justify="right")
    table.add_row("hashlib, row by row", f"{baseline:.3f}", "", "1.00x")
    for name, function, array in (
        ("row_hashes (float rows)", row_hashes, scaled),
        ("normalised_row_hashes (uint8 rows)", normalised_row_hashes, images),
    ):
        seconds = median_seconds(function, array, args.repeats)
        table.add_row(name, f"{seconds:.3f}", "< 1.000", f"{baseline / seconds:.1f}x faster")
    Console().print(table)


if __name__ == "__main__":
    main()
