"""Row hashing: how two arrays are found to share rows, and which rows a model's input holds.

Kernel-side code (see ``common.py``)."""

import hashlib
import types

from grader.execute.probe.common import SAMPLE_ROWS, _dtype_name, _int, _numpy

_HASH_CHUNK = 4096
_HASH_SEED = 0x6A09E667
SPLIT_GRID = 1024.0  # a normalised row's values are rounded to multiples of 1/SPLIT_GRID
_multipliers_by_width = {}


def _multipliers(words):
    np = _numpy()
    found = _multipliers_by_width.get(words)
    if found is None:
        rng = np.random.default_rng(_HASH_SEED + words)
        found = rng.integers(0, 2**63, size=words, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        _multipliers_by_width[words] = found
    return found


def row_hashes(array, rows=None):
    """A 64-bit hash of each row (first axis) of ``array``, or None when rows cannot be hashed.

    Rows are compared by value after a cast to float32 (so the same images in float32 and
    float64 match, and ``-0.0`` equals ``0.0``); the hash is a random multilinear form over the
    row's 64-bit words, vectorised in chunks: about 60 ms for 55,000 MNIST rows.
    ``rows``: optional indices to hash only those rows.
    """
    return _hash_rows(array, rows, normalise=False)


def normalised_row_hashes(array, rows=None):
    """Like ``row_hashes``, but of each row divided by its largest absolute value: the same
    hashes for ``x``, ``x / 255.`` and ``x.astype("float32") / 255`` (None if not numeric).

    The normalised values are rounded to multiples of ``1 / SPLIT_GRID``: for 8-bit images
    a value ``v / max`` is always at least ``1 / 510`` of a step away from a rounding boundary,
    far more than the float32 error of a student's scaling, so the rounding never flips. About
    0.08 s for 60,000 MNIST rows (computed in float32, chunk by chunk).
    """
    return _hash_rows(array, rows, normalise=True)


def _hash_rows(array, rows, normalise):
    np = _numpy()
    try:
        data = np.asarray(array)
    except Exception:
        return None
    if data.ndim == 0 or data.dtype.kind not in "biuf" or data.shape[0] == 0:
        return None
    if rows is not None:
        data = data[rows]
    count = data.shape[0]
    flat = data.reshape(count, -1)
    width = flat.shape[1]
    padded = width + (width % 2)
    multipliers = _multipliers(padded // 2)
    out = np.empty(count, dtype=np.uint64)
    unsigned = data.dtype.kind in "bu"
    with np.errstate(all="ignore"):  # wrapping arithmetic is the point; student code sees no warning
        for start in range(0, count, _HASH_CHUNK):
            block = np.zeros((min(_HASH_CHUNK, count - start), padded), dtype=np.float32)
            block[:, :width] = flat[start : start + _HASH_CHUNK]
            if normalise:
                peak = (block if unsigned else np.abs(block)).max(axis=1, keepdims=True)
                peak[~(peak > 0)] = 1.0  # an all-zero row stays zero
                block *= np.float32(SPLIT_GRID) / peak
                np.rint(block, out=block)
            block += np.float32(0.0)  # -0.0 -> 0.0
            out[start : start + len(block)] = block.view(np.uint64) @ multipliers
        salt = 0x3C6EF372 if normalise else 0
        out += np.uint64((width * 0x9E3779B97F4A7C15 + salt) % 2**64)
    return out


def sample_rows(count):
    """Up to SAMPLE_ROWS evenly spaced row indices of a set of ``count`` rows (deterministic)."""
    np = _numpy()
    if count <= SAMPLE_ROWS:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, SAMPLE_ROWS).round().astype(np.int64))


def _fingerprint(shape, hashes):
    digest = hashlib.blake2b(repr(tuple(shape)).encode(), digest_size=8)
    if hashes is not None:
        digest.update(hashes.tobytes())
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# What a model's input is: an array we can hash, or a pipeline we can only name.


class _Data:
    """The rows handed to fit/evaluate/predict: ``array`` is set when they can be hashed."""

    def __init__(self, value):
        self.kind, self.array = _classify(value)
        self.origin = id(value)
        self.count = None
        if self.array is not None:
            try:
                self.count = _int(self.array.shape[0])
            except Exception:
                self.count = None
            if self.count is None:
                self.array = None

    def part(self, start, stop):
        if self.array is None:
            return self
        copy = _Data(None)
        copy.kind, copy.origin, copy.array = self.kind, self.origin, self.array[start:stop]
        copy.count = int(copy.array.shape[0])
        return copy

    def ref(self, sampled):
        if self.array is None:
            return {"id": f"{self.kind}-{self.origin:x}"[:40], "kind": self.kind}
        shape = [int(size) for size in self.array.shape][:10]
        return {
            "id": _fingerprint(shape, sampled),
            "shape": shape,
            "dtype": _dtype_name(getattr(self.array, "dtype", "")),
            "kind": self.kind,
        }

    def sampled_hashes(self):
        if self.array is None:
            return None
        return row_hashes(self.array, sample_rows(self.count))

    def all_hashes(self):
        return None if self.array is None else row_hashes(self.array)

    def normalised_sample(self):
        """``normalised_row_hashes`` of the sampled rows, computed once: where the rows come from
        and whether they were kept back from a training split both read them."""
        if not hasattr(self, "_normalised"):
            self._normalised = (
                None if self.array is None else normalised_row_hashes(self.array, sample_rows(self.count))
            )
        return self._normalised


def _classify(value):
    """(kind, array-like with a first axis or None)."""
    try:
        return _classify_value(value)
    except Exception:  # e.g. a bfloat16 tensor numpy cannot hold
        return "unknown", None


def _classify_value(value):
    if value is None:
        return "unknown", None
    if isinstance(value, dict):
        value = value[sorted(value, key=str)[0]] if value else None
        return _classify_value(value) if value is not None else ("unknown", None)
    if isinstance(value, (list, tuple)):
        if value and hasattr(value[0], "shape") and getattr(value[0], "ndim", 1) > 0:
            return _classify_value(value[0])  # several inputs: the first one stands for the rows
        try:
            return "array", _numpy().asarray(value)
        except Exception:
            return "unknown", None
    module = type(value).__module__ or ""
    if isinstance(value, types.GeneratorType) or (hasattr(value, "__next__") and not hasattr(value, "shape")):
        return "generator", None
    if any(word in cls.__name__ for cls in type(value).__mro__ for word in ("Dataset", "DataLoader", "Sequence")):
        return "dataset", None
    if module.startswith("torch") and hasattr(value, "detach"):
        return "tensor", value.detach().cpu().numpy()
    if module.startswith(("tensorflow", "keras", "jax")) and hasattr(value, "shape"):
        return "tensor", value
    if module.startswith("pandas") and hasattr(value, "to_numpy"):
        return "array", value.to_numpy()
    if hasattr(value, "shape") and hasattr(value, "__len__"):
        return "array", value
    return "unknown", None
