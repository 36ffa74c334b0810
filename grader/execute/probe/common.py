"""What every part of the probe shares: the words of its protocol with the runner, the caps on
its report, and conversions that never raise.

Kernel-side code, like every part of this package except ``__init__``: standard library only
(numpy when first needed), and every top-level name unique across the parts, because
``probe_source()`` joins them into one namespace in the kernel.
"""

FACTS_MIME = "application/x-grader-facts+json"
TAMPERED = "the grader's recorders were tampered with"
MAX_TAMPERING = 20
SAMPLE_ROWS = 256  # rows of an evaluation set checked against the training rows
MAX_PAYLOAD = 3_900_000  # stay under facts.MAX_FACTS_BYTES
MAX_MODELS, MAX_FITS, MAX_EVALUATIONS, MAX_WARNINGS = 400, 1500, 4000, 150
MAX_LAYERS, MAX_HISTORY_KEYS, MAX_HISTORY_EPOCHS = 1500, 40, 5000
_DROPOUT_CLASSES = ("Dropout", "AlphaDropout", "GaussianDropout", "FeatureAlphaDropout")


SAVED_MODELS = 8  # the models trained last; the verifier checks at most these


def _fitted_objects(probe, framework):
    """(model id, model object) of the last ``SAVED_MODELS`` models of ``framework`` that were fit."""
    fitted = []
    for fit in probe.fits:
        if fit["model"] not in fitted:
            fitted.append(fit["model"])
    by_id = {record["id"]: key for key, record in probe.models.items() if record.get("framework") == framework}
    chosen = [model_id for model_id in fitted if model_id in by_id][-SAVED_MODELS:]
    return [(model_id, probe.objects[by_id[model_id]]) for model_id in chosen if by_id[model_id] in probe.objects]


def _numpy():
    import numpy

    return numpy


def _float(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        try:
            return float(_numpy().asarray(value).reshape(-1)[0])
        except Exception:
            return None


def _int(value):
    if isinstance(value, bool):
        return None
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _text(value, limit):
    return str(value)[:limit]


def _dtype_name(dtype):
    return str(getattr(dtype, "name", None) or dtype)[:40]  # numpy, TensorFlow and torch dtypes


def _optimizer_fact(optimizer, learning_rate=None, momentum=None):
    """{cls, learning_rate, momentum} of a Keras or PyTorch optimizer (None for what it lacks)."""
    if optimizer is None:
        return None
    rate = learning_rate if learning_rate is not None else getattr(optimizer, "learning_rate", None)
    momentum = momentum if momentum is not None else getattr(optimizer, "momentum", None)
    return {"cls": _text(type(optimizer).__name__, 200), "learning_rate": _float(rate) if rate is not None else None,
            "momentum": _float(momentum) if momentum is not None else None}  # fmt: skip
