"""The clean verifier's program: loads the models a notebook saved and measures them, in a process
that never ran student code.

The grader sends this file's source to ``python -I -c`` inside the sandbox (``verify.py``); it
reads one JSON request a line on stdin and answers one JSON line each on stdout. Imports only the
standard library, numpy and Keras: a ``.keras`` file is loaded with ``safe_mode=True``, no custom
objects and no compiling, so nothing in it can run code (a custom layer, a ``Lambda``, a module
the file names outside Keras: the load fails, and the grader says the model could not be
verified). What it reports comes from the loaded model itself: every layer's module and
qualified name (never the name a class gives itself), dropout rates, and the accuracy on the
held-out split the grader served (the first ``MAX_SAMPLES`` test rows), under the few input
preparations homework uses (pixels scaled to 0-1, raw or standardised; images flattened or not),
best of them.
"""

import json
import os
import sys

MAX_SAMPLES = 2000
MAX_LAYERS = 500


def main():
    answers = sys.stdout
    sys.stdout = sys.stderr  # what a library prints never mixes with the answers
    try:
        import keras
        import numpy as np
    except Exception as exc:  # no Keras here: every model is "not independently verified"
        answers.write(json.dumps({"ready": False, "error": f"{type(exc).__name__}: {exc}"[:500]}) + "\n")
        answers.flush()
        return
    answers.write(json.dumps({"ready": True, "keras": keras.__version__}) + "\n")
    answers.flush()
    splits = {}
    for line in sys.stdin:
        try:
            request = json.loads(line)
            answer = measure(keras, np, request, splits)
        except Exception as exc:  # this model's answer; the next request is served as usual
            answer = {"loaded": False, "error": f"{type(exc).__name__}: {exc}"[:500]}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


def measure(keras, np, request, splits):
    model = keras.saving.load_model(request["model"], compile=False, safe_mode=True)
    layers = []
    _layers(model, layers, set())
    answer = {"loaded": True, "model_class": _qualified(type(model)), "layers": layers[:MAX_LAYERS]}
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
    ways = {"pixels / 255": scaled, "raw pixels": pixels, "standardised": (scaled - float(scaled.mean())) / spread}
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
        declared = getattr(model, "inputs", None)
        takes = f"inputs of shape {tuple(declared[0].shape[1:])}" if declared else "other inputs"
        served = "x".join(str(size) for size in x.shape[1:])
        raise ValueError(f"the model takes {takes}, not the served dataset's {served} images (trained on other data?)")
    counts = np.bincount(y) if len(y) else np.array([1])
    return {"accuracy": best, "samples": int(len(y)), "chance": float(counts.max() / max(1, len(y))), "prepared": how}


def _predict(model, np, images):
    """The model's outputs for the first of the usual shapes it accepts (the model's own input
    shape when it says one, flattened, with a channel axis), or None."""
    count = len(images)
    shapes = [(count, -1), (*images.shape, 1), images.shape]
    declared = getattr(model, "inputs", None)
    if declared:
        shape = tuple(declared[0].shape[1:])
        if None not in shape and int(np.prod(shape)) == int(np.prod(images.shape[1:])):
            shapes.insert(0, (count, *shape))
    for shape in shapes:
        try:
            scores = model.predict(images.reshape(shape), verbose=0, batch_size=256)
        except Exception:  # not this shape; the next one
            continue
        return np.asarray(scores[0] if isinstance(scores, (list, tuple)) else scores)
    return None


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()
