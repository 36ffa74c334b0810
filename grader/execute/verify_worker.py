"""The clean verifier's program: loads the models a notebook saved and measures them, in a process
that never ran student code.

The grader sends this file's source (after ``verify_torch.py``'s) to ``python -I -c SOURCE
FRAMEWORK`` inside the sandbox (``verify.py``), one process per framework; it reads one JSON
request a line on stdin and answers one JSON line each on stdout. Imports only the standard
library, numpy and the framework. A ``.keras`` file is loaded with ``safe_mode=True``, no custom
objects and no compiling, so nothing in it can run code (a custom layer, a ``Lambda``, a module
the file names outside Keras: the load fails, and the grader says the model could not be
verified); a PyTorch file is rebuilt from torch's own classes (``verify_torch.py``). What it
reports comes from the loaded model itself: every layer's module and qualified name (never the
name a class gives itself), dropout rates, and the accuracy on the held-out split the grader
served (the first ``MAX_SAMPLES`` test rows), under the few input preparations homework uses
(pixels scaled to 0-1, raw, standardised, or to -1..1 as torchvision's ``Normalize((0.5,), (0.5,))``
of tutorials does; images flattened or not), best of them.
"""

import json
import os
import sys

from grader.execute.verify_torch import TorchModel, shape_size  # joined before this file in the worker's source

MAX_SAMPLES = 2000
MAX_LAYERS = 500


def main():
    framework = sys.argv[1] if len(sys.argv) > 1 else "keras"
    answers = sys.stdout
    sys.stdout = sys.stderr  # what a library prints never mixes with the answers
    try:
        import numpy as np

        if framework == "torch":
            import safetensors  # noqa: F401  (what reads the probe's files: missing, nothing can be verified)
            import torch as library

            library.set_num_threads(1)
        else:
            import keras as library
    except Exception as exc:  # no framework here: every model is "not independently verified"
        answers.write(json.dumps({"ready": False, "error": f"{type(exc).__name__}: {exc}"[:500]}) + "\n")
        answers.flush()
        return
    answers.write(json.dumps({"ready": True, framework: library.__version__}) + "\n")
    answers.flush()
    splits = {}
    for line in sys.stdin:
        try:
            request = json.loads(line)
            answer = measure(framework, library, np, request, splits)
        except Exception as exc:  # this model's answer; the next request is served as usual
            answer = {"loaded": False, "error": f"{type(exc).__name__}: {exc}"[:500]}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


def measure(framework, library, np, request, splits):
    model = TorchModel(library, request["model"]) if framework == "torch" else KerasModel(library, request["model"])
    answer = {"loaded": True, "layers": model.layers[:MAX_LAYERS]}
    split = request.get("split")
    if split:
        if split not in splits:
            with np.load(split, allow_pickle=False) as data:
                splits[split] = (data["x_test"][:MAX_SAMPLES], data["y_test"][:MAX_SAMPLES].astype("int64").ravel())
        x, y = splits[split]
        answer.update(_accuracy(model, np, x, y))
    return answer


def _qualified(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


class KerasModel:
    """A ``.keras`` file loaded safely, with its layers listed."""

    def __init__(self, keras, path):
        self.keras = keras
        self.model = keras.saving.load_model(path, compile=False, safe_mode=True)
        self.layers = []
        _layers(self.model, self.layers, set())
        declared = getattr(self.model, "inputs", None)
        self.input_shape = tuple(declared[0].shape[1:]) if declared else None

    def candidate_shapes(self, images):
        """The model's own input shape when it says one, flattened, with a channel axis, as served."""
        count = len(images)
        shapes = [(count, -1), (*images.shape, 1), images.shape]
        shape = self.input_shape
        if shape and None not in shape and shape_size(shape) == shape_size(images.shape[1:]):
            shapes.insert(0, (count, *shape))
        return [lambda x, shape=shape: x.reshape(shape) for shape in shapes]

    def predict(self, np, images):
        """Called directly, 256 rows at a time: ``Model.predict`` costs a tenth of a second a call
        in setting up, and a model is tried on a dozen preparations and shapes."""
        outputs = []
        for start in range(0, len(images), 256):
            scores = self.model(images[start : start + 256], training=False)
            scores = scores[0] if isinstance(scores, (list, tuple)) else scores
            outputs.append(np.asarray(self.keras.ops.convert_to_numpy(scores)))
        return np.concatenate(outputs)


def _layers(container, out, seen):
    for layer in list(getattr(container, "layers", None) or []):
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        if type(layer).__name__ == "InputLayer":
            continue
        if isinstance(getattr(layer, "layers", None), list) and hasattr(layer, "fit"):
            _layers(layer, out, seen)  # a model used as a layer
            continue
        rate = getattr(layer, "rate", None)
        units = getattr(layer, "units", None)
        out.append({
            "path": _qualified(type(layer)),
            "rate": float(rate) if isinstance(rate, (int, float)) else None,
            "units": int(units) if isinstance(units, int) else None,
        })  # fmt: skip


def _accuracy(model, np, x, y):
    """The best accuracy over the usual ways to prepare the images, with the majority-class rate."""
    best, how = None, None
    pixels = x.astype("float32")
    scaled = pixels / 255.0 if pixels.max(initial=0) > 1 else pixels
    spread = float(scaled.std()) or 1.0
    ways = {"pixels / 255": scaled, "raw pixels": pixels, "standardised": (scaled - float(scaled.mean())) / spread,
            "centred on 0.5": (scaled - 0.5) / 0.5}  # fmt: skip
    for name, prepared in ways.items():
        scores = _predict(model, np, prepared)
        if scores is None:
            continue
        if scores.ndim == 2 and scores.shape[1] > 1:
            predicted = scores.argmax(axis=1)
        else:
            predicted = (scores.reshape(len(scores)) > 0.5).astype("int64")
        value = float((predicted == y).mean())
        if best is None or value > best:
            best, how = value, name
    if best is None:
        takes = f"inputs of shape {model.input_shape}" if model.input_shape else "other inputs"
        served = "x".join(str(size) for size in x.shape[1:])
        raise ValueError(f"the model takes {takes}, not the served dataset's {served} images (trained on other data?)")
    counts = np.bincount(y) if len(y) else np.array([1])
    return {"accuracy": best, "samples": int(len(y)), "chance": float(counts.max() / max(1, len(y))), "prepared": how}


def _predict(model, np, images):
    """The model's outputs for the first of its candidate shapes it accepts, or None."""
    for reshape in model.candidate_shapes(images):
        try:
            scores = model.predict(np, reshape(images))
        except Exception:  # not this shape; the next one
            continue
        if len(scores) == len(images):
            return scores
    return None


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()
