"""An offline stand-in for ``keras.datasets.mnist``: real handwritten digits, MNIST's layout.

No grading machine can download ``mnist.npz``, so when an assignment names the ``mnist`` dataset
without a file, the kernel is served these instead: scikit-learn's 1,797 ``load_digits`` images
(8x8, 0-16) scaled up to a 20x20 box inside a 28x28 frame like MNIST's, shifted by up to 2 px,
with a little intensity jitter and pixel noise. Train and test images come from disjoint source
digits, so a model that scores well on the test split has learned something.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from grader.atomic import write_atomically

VERSION = "digits-v1"
SOURCE = f"stand-in for MNIST made from scikit-learn's load_digits ({VERSION})"
TRAIN_SAMPLES = 60_000
TEST_SAMPLES = 10_000
_SEED = 20240601
_TEST_SOURCES = 360  # of the 1,797 source digits, kept apart for the test split


def default_cache_dir() -> Path:
    """``$GRADER_CACHE_DIR`` if set, else ``~/.cache/notebook-grader``."""
    configured = os.environ.get("GRADER_CACHE_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "notebook-grader"


def _upsampling_matrix(size_in: int, size_out: int) -> np.ndarray:
    """Bilinear interpolation as a (size_out, size_in) matrix: ``big = A @ small @ A.T``."""
    centres = (np.arange(size_out) + 0.5) * size_in / size_out - 0.5
    centres = np.clip(centres, 0, size_in - 1)
    low = np.floor(centres).astype(int)
    high = np.minimum(low + 1, size_in - 1)
    weight = centres - low
    matrix = np.zeros((size_out, size_in))
    matrix[np.arange(size_out), low] += 1 - weight
    matrix[np.arange(size_out), high] += weight
    return matrix


def _render(boxes: np.ndarray, labels: np.ndarray, count: int, rng: np.random.Generator):
    """``count`` 28x28 uint8 images drawn from the 20x20 ``boxes`` with jitter, noise and shifts."""
    pick = rng.integers(0, len(boxes), count)
    strokes = boxes[pick]
    strokes *= rng.uniform(0.8, 1.15, (count, 1, 1)).astype(np.float32)
    noise = rng.random(strokes.shape, dtype=np.float32)
    noise *= 24
    noise -= 12
    strokes += noise
    strokes[strokes < 24] = 0  # MNIST's background is clean black
    np.minimum(strokes, 255, out=strokes)
    top = (rng.integers(2, 7, count)[:, None] + np.arange(20))[:, :, None]
    left = (rng.integers(2, 7, count)[:, None] + np.arange(20))[:, None, :]
    images = np.zeros((count, 28, 28), dtype=np.uint8)
    images[np.arange(count)[:, None, None], top, left] = strokes.astype(np.uint8)
    return images, labels[pick].astype(np.uint8)


def make_mnist_standin() -> dict[str, np.ndarray]:
    """The stand-in arrays in Keras' layout: x_train (60000, 28, 28) uint8, y_train (60000,) ..."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(_SEED)
    order = rng.permutation(len(digits.images))
    test_sources, train_sources = order[:_TEST_SOURCES], order[_TEST_SOURCES:]
    upsample = _upsampling_matrix(8, 20).astype(np.float32)
    boxes = upsample @ digits.images.astype(np.float32) @ upsample.T * np.float32(255 / 16)
    x_train, y_train = _render(boxes[train_sources], digits.target[train_sources], TRAIN_SAMPLES, rng)
    x_test, y_test = _render(boxes[test_sources], digits.target[test_sources], TEST_SAMPLES, rng)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def mnist_standin_npz(cache_dir: Path | None = None) -> Path:
    """The stand-in written once as ``mnist-standin-<version>.npz`` in the cache folder, then reused.

    The file is written to a temporary name and renamed into place, so parallel graders never see
    a half-written file (the last rename wins, and every writer writes the same bytes).
    """
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = folder / f"mnist-standin-{VERSION}.npz"
    if target.is_file():
        return target
    data = io.BytesIO()
    np.savez(data, **make_mnist_standin())
    write_atomically(target, data.getvalue())
    return target
