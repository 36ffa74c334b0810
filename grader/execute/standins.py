"""Offline stand-ins for the datasets homework downloads: Fashion-MNIST, CIFAR-10 and CIFAR-100.

No grading machine can download them, so the kernel is served these instead (MNIST's is in
``digits.py``): the real image shapes, dtypes, value ranges and class counts, fewer images, made
deterministically. Each class has its own smooth pattern (a low-resolution random field, scaled
up); each image is its class's pattern shifted by up to 2 px, with a random contrast and pixel
noise, so a model that scores well on the test split has learned something. Train and test images
are drawn independently. Each is written once as an ``.npz`` (Keras' keys) in the cache folder.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader.atomic import write_atomically
from grader.execute import digits

VERSION = "standins-v1"
TRAIN_SAMPLES = 5_000
TEST_SAMPLES = 1_000


@dataclass(frozen=True)
class StandIn:
    name: str
    title: str
    shape: tuple[int, ...]  # one image
    classes: int
    seed: int

    @property
    def source(self) -> str:
        return f"stand-in for {self.title}: {self.classes} classes of synthetic {'x'.join(map(str, self.shape))} uint8 images ({VERSION})"


STANDINS = {
    "fashion_mnist": StandIn("fashion_mnist", "Fashion-MNIST", (28, 28), 10, 20240611),
    "cifar10": StandIn("cifar10", "CIFAR-10", (32, 32, 3), 10, 20240612),
    "cifar100": StandIn("cifar100", "CIFAR-100", (32, 32, 3), 100, 20240613),
}
SERVED = ("mnist", *STANDINS)  # every dataset the kernel is served without a file
HELD_OUT = "mnist"  # the served dataset whose test split the verifier measures models on
MENTIONS = {  # how a notebook's code names each served dataset (only those mentioned are staged)
    "mnist": re.compile(r"mnist", re.IGNORECASE),
    "fashion_mnist": re.compile(r"fashion[-_]?mnist", re.IGNORECASE),
    "cifar10": re.compile(r"cifar[-_]?10(?!0)", re.IGNORECASE),
    "cifar100": re.compile(r"cifar[-_]?100", re.IGNORECASE),
}


def source_of(name: str) -> str:
    return digits.SOURCE if name == "mnist" else STANDINS[name].source


def make_standin(standin: StandIn) -> dict[str, np.ndarray]:
    """The arrays in Keras' layout (CIFAR labels as (N, 1), like ``cifar10.load_data()``)."""
    rng = np.random.default_rng(standin.seed)
    height, width = standin.shape[:2]
    channels = standin.shape[2] if len(standin.shape) == 3 else 1
    coarse = rng.random((standin.classes, height // 4, width // 4, channels), dtype=np.float32)
    patterns = coarse.repeat(4, axis=1).repeat(4, axis=2) * 200 + 20  # (classes, H, W, C) in 20..220
    arrays = {}
    for split, count in (("train", TRAIN_SAMPLES), ("test", TEST_SAMPLES)):
        labels = np.arange(count) % standin.classes
        rng.shuffle(labels)
        shifted = np.empty((count, height, width, channels), dtype=np.float32)
        for index, (down, right) in enumerate(rng.integers(-2, 3, (count, 2))):
            shifted[index] = np.roll(patterns[labels[index]], (down, right), axis=(0, 1))
        shifted *= rng.uniform(0.7, 1.15, (count, 1, 1, 1)).astype(np.float32)
        shifted += rng.normal(0, 18, shifted.shape).astype(np.float32)
        images = np.clip(shifted, 0, 255).astype(np.uint8).reshape(count, *standin.shape)
        arrays[f"x_{split}"] = images
        arrays[f"y_{split}"] = labels.astype(np.uint8).reshape(-1, 1) if channels == 3 else labels.astype(np.uint8)
    return arrays


def standin_npz(name: str, cache_dir: Path | None = None) -> Path:
    """The stand-in for ``name`` (one of ``SERVED``) as an ``.npz`` in the cache folder, made once.

    Written to a temporary name and renamed into place, so parallel graders never see a half file."""
    if name == "mnist":
        return digits.mnist_standin_npz(cache_dir)
    folder = Path(cache_dir) if cache_dir is not None else digits.default_cache_dir()
    target = folder / f"{name}-standin-{VERSION}.npz"
    if target.is_file():
        return target
    data = io.BytesIO()
    np.savez(data, **make_standin(STANDINS[name]))
    write_atomically(target, data.getvalue())
    return target
