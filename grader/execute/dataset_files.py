"""Dataset files checked before any kernel starts.

A file the probe cannot serve (not an npz, arrays missing, pickled objects, images of the wrong
shape) would make every student's data-loading cell fail, and the reports would blame the
students' code. So the coordinator opens each file once, up front, and refuses the whole batch
with one line naming the file and what is wrong. Only ``mnist`` has a known layout (that of
``keras.datasets.mnist.load_data()``); other datasets are staged as they are.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

MNIST_ARRAYS = ("x_train", "y_train", "x_test", "y_test")
MNIST_IMAGE = (28, 28)
ZIP_MAGIC = b"PK\x03\x04"
NPY_MAGIC = b"\x93NUMPY"


class DatasetError(ValueError):
    """A dataset file the kernel could not be served from; the message says what is wrong with it."""


FILE_PREFIX = "file:"  # run inputs so named are the assignment's ``files:``, staged by file name


def check_dataset(name: str, path: Path) -> None:
    """Raises DatasetError unless ``path`` can serve the dataset ``name`` (the caller names the file)."""
    if name == "mnist":
        check_mnist(path)


def check_mnist(path: Path) -> None:
    """MNIST's layout: x_train (N, 28, 28) and x_test (M, 28, 28) numbers, y_train (N,) and y_test (M,) whole numbers."""
    wanted = "an .npz file holding x_train, y_train, x_test, y_test (as numpy.savez writes)"
    try:
        with open(path, "rb") as stream:
            start = stream.read(6)
    except OSError as exc:
        raise DatasetError(f"cannot be read ({exc.strerror})") from None
    if start.startswith(NPY_MAGIC):
        raise DatasetError(f"a single array (.npy), not {wanted}")
    if not start.startswith(ZIP_MAGIC):
        raise DatasetError(f"not {wanted}: it is not a zip archive (a pickle, text or another format?)")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DatasetError(f"not readable as {wanted} ({_short(exc)})") from None
    with archive:
        missing = [key for key in MNIST_ARRAYS if key not in archive.files]
        if missing:
            found = ", ".join(archive.files) or "nothing"
            raise DatasetError(f"missing {', '.join(missing)} (the file holds {found}); expected {wanted}")
        arrays = {}
        for key in MNIST_ARRAYS:
            try:
                arrays[key] = archive[key]
            except ValueError as exc:  # object arrays need pickle, which is refused
                raise DatasetError(f"{key} holds pickled Python objects ({_short(exc)}); save numbers only") from None
            except (OSError, EOFError, zipfile.BadZipFile) as exc:
                raise DatasetError(f"{key} cannot be read ({_short(exc)}); the file may be truncated") from None
    for split in ("train", "test"):
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if images.ndim != 3 or images.shape[1:] != MNIST_IMAGE or not len(images):
            raise DatasetError(f"x_{split} has shape {images.shape}; expected (samples, 28, 28)")
        if images.dtype.kind not in "uif":
            raise DatasetError(f"x_{split} holds {images.dtype}; expected pixel numbers (uint8 as in MNIST)")
        if labels.shape != (len(images),):
            raise DatasetError(
                f"y_{split} has shape {labels.shape}; expected ({len(images)},), one label per image of x_{split}"
            )
        if labels.dtype.kind not in "ui":
            raise DatasetError(f"y_{split} holds {labels.dtype}; expected whole-number labels (uint8 as in MNIST)")


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
