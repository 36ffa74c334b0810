"""The probe: runs inside the student's kernel before the first cell and records what ran.

The runner sends this file's source to the kernel and calls ``install(config)``; everything lives
in one object stored under an obscure attribute of ``sys``, so student code does not stumble on
it. The probe imports only the standard library (numpy when it first needs it) and never imports
Keras or PyTorch itself: a post-import hook on ``sys.meta_path`` patches them when the notebook
imports them, so a notebook that never imports TensorFlow never pays for it.

What it records (schema in ``facts.py``):
- ``keras.datasets.mnist.load_data()`` served from the file the runner staged, as a Dataset fact;
- every Keras ``fit`` / ``evaluate`` / ``predict`` (patched once on ``keras.Model``, so Sequential,
  functional and subclassed models are all covered), with the model's layers, the data sizes and
  how much of the evaluation data the model was trained (or validated) on, by row hashes;
- PyTorch root modules, their training forwards and optimizer steps, and their eval forwards.
Originals are always called exactly once with the caller's arguments (plus one recording
callback for Keras); results and exceptions pass through unchanged. A failure inside the probe
becomes a warning in the facts, never an error in the student's cell.

The facts leave the kernel when the runner's last hidden cell calls ``report()``: one
``display_data`` with a private MIME type whose JSON carries the run's nonce. The probe also
checkpoints the facts to a file after each fit/evaluate, for runs whose last cell cannot run.
"""

import functools
import hashlib
import inspect
import json
import math
import os
import sys
import time
import types

FACTS_MIME = "application/x-grader-facts+json"
SAMPLE_ROWS = 256  # rows of an evaluation set checked against the training rows
MAX_PAYLOAD = 3_900_000  # stay under facts.MAX_FACTS_BYTES
MAX_MODELS, MAX_FITS, MAX_EVALUATIONS, MAX_WARNINGS = 400, 1500, 4000, 150
MAX_LAYERS, MAX_HISTORY_KEYS, MAX_HISTORY_EPOCHS = 1500, 40, 5000
CHECKPOINT_EVERY = 1.0  # seconds between two checkpoint writes during training
_HASH_CHUNK = 4096
_HASH_SEED = 0x6A09E667
_DROPOUT_CLASSES = ("Dropout", "AlphaDropout", "GaussianDropout", "FeatureAlphaDropout")
_REGULARIZER_ATTRS = (
    "kernel_regularizer", "bias_regularizer", "activity_regularizer", "recurrent_regularizer",
    "depthwise_regularizer", "pointwise_regularizer", "beta_regularizer", "gamma_regularizer",
    "embeddings_regularizer",
)  # fmt: skip
_multipliers_by_width = {}


def install(config):
    """Start recording. ``config``: nonce, attribute (where the probe object is stored on ``sys``),
    datasets ({"mnist": {"path", "source"}}), checkpoint (a file path or None)."""
    probe = _Probe(config)
    setattr(sys, config["attribute"], probe)
    sys.meta_path.insert(0, _PostImportFinder(probe.hooks))
    for name in list(probe.hooks):
        if name in sys.modules:  # already imported before the probe ran
            probe.hooks.pop(name)(sys.modules[name])
    return probe


# ---------------------------------------------------------------------------------------------
# Row hashing: how two arrays are found to share rows.


def _numpy():
    import numpy

    return numpy


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
    with np.errstate(all="ignore"):  # wrapping arithmetic is the point; student code sees no warning
        for start in range(0, count, _HASH_CHUNK):
            block = np.zeros((min(_HASH_CHUNK, count - start), padded), dtype=np.float32)
            block[:, :width] = flat[start : start + _HASH_CHUNK]
            block += np.float32(0.0)
            out[start : start + len(block)] = block.view(np.uint64) @ multipliers
        out += np.uint64((width * 0x9E3779B97F4A7C15) % 2**64)
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


def _dtype_name(dtype):
    return str(getattr(dtype, "name", None) or dtype)[:40]  # numpy, TensorFlow and torch dtypes


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


# ---------------------------------------------------------------------------------------------
# The post-import hook.


class _PostImportFinder:
    """Finds nothing itself: wraps the real loader of a few modules to patch them once loaded."""

    def __init__(self, hooks):
        self.hooks = hooks

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.hooks:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            try:
                spec = finder.find_spec(fullname, path, target)
            except Exception:
                continue
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        hooks = self.hooks
        original = loader.exec_module

        def exec_module(module):
            original(module)
            if getattr(module, "__name__", None) == fullname and fullname in hooks:
                try:
                    del loader.exec_module
                except AttributeError:
                    pass
                hooks.pop(fullname)(module)

        try:
            loader.exec_module = exec_module
        except (AttributeError, TypeError):
            return spec
        return spec


# ---------------------------------------------------------------------------------------------
# The probe.


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


class _Probe:
    def __init__(self, config):
        self.nonce = config["nonce"]
        self.datasets = config.get("datasets") or {}
        self.checkpoint_path = config.get("checkpoint")
        self.cell = None  # set by the runner before each notebook cell
        self.models = {}  # id(model object) -> model record
        self.objects = {}  # id(model object) -> the object, kept alive so ids stay unique
        self.fits, self.evaluations, self.warnings = [], [], []
        self.dataset_facts = {}
        self.trained_rows = {}  # model id -> sorted unique row hashes it was trained on
        self.validated_rows = {}  # model id -> ... validated on
        self.pending_rows = {}  # model id -> [hash arrays] not merged yet (PyTorch batches)
        self.depth = 0  # > 0 inside a recorded call: Keras' own nested calls are not recorded
        self.last_checkpoint = 0.0
        self.dirty = False  # facts changed since the last checkpoint
        self.keras_callback_class = None
        self.torch_fits, self.torch_evaluations, self.torch_param_owner = {}, {}, {}
        self.torch_unstepped = {}  # model id -> train-mode batches no optimizer step has followed yet
        self.hooks = {  # module -> patch applied once the notebook imports it
            "keras.src.models.model": self._safe_patch(self._patch_keras_model),
            "torch": self._safe_patch(self._patch_torch),
        }
        if "mnist" in self.datasets:
            self.hooks["keras.src.datasets.mnist"] = self._safe_patch(self._patch_keras_mnist)

    # -- bookkeeping ---------------------------------------------------------------------------

    def warn(self, message):
        if len(self.warnings) < MAX_WARNINGS and message not in self.warnings:
            self.warnings.append(_text(message, 500))

    def safely(self, function, *args):
        try:
            return function(*args)
        except Exception as exc:  # the probe must never break the student's code
            self.warn(f"probe: {getattr(function, '__name__', 'hook')} failed: {type(exc).__name__}: {exc}")
            return None

    def _safe_patch(self, patch):
        def apply(module):
            self.safely(patch, module)

        return apply

    def _user_namespace(self):
        ipython = sys.modules.get("IPython")
        shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
        if shell is not None:
            return shell.user_ns
        main = sys.modules.get("__main__")
        return vars(main) if main is not None else {}

    def _variable(self, obj, frame):
        spaces = []
        if frame is not None:
            if frame.f_locals is not frame.f_globals:
                spaces.append(frame.f_locals)
            spaces.append(frame.f_globals)
        spaces.append(self._user_namespace())
        for space in spaces:
            for name, value in list(space.items()):
                if value is obj and not name.startswith("_"):
                    return _text(name, 200)
        return None

    def _model(self, obj, framework, describe, frame=None, refresh=False):
        """The record of ``obj``, made on first sight; ``refresh`` (at fit) describes it again, as
        layers may have been built or the variable renamed since."""
        record = self.models.get(id(obj))
        if record is not None and not refresh:
            return record
        if record is None:
            if len(self.models) >= MAX_MODELS:
                self.warn(f"probe: more than {MAX_MODELS} models; later ones are not recorded")
                return None
            record = {"id": len(self.models) + 1, "framework": framework, "cls": _text(type(obj).__name__, 200)}
            self.models[id(obj)] = record
            self.objects[id(obj)] = obj
        record.update(self.safely(describe, obj) or {})
        variable = self.safely(self._variable, obj, frame)
        if variable:
            record["variable"] = variable
        return record

    def _merged_rows(self, store, model_id):
        np = _numpy()
        pending = self.pending_rows.pop(model_id, None) if store is self.trained_rows else None
        if pending:
            known = [store[model_id]] if model_id in store else []
            store[model_id] = np.unique(np.concatenate(known + pending))
        return store.get(model_id)

    def _remember_rows(self, store, model_id, hashes):
        if hashes is None:
            return
        np = _numpy()
        known = store.get(model_id)
        store[model_id] = np.unique(hashes if known is None else np.concatenate([known, hashes]))

    def _overlap(self, store, model_id, sampled):
        known = self._merged_rows(store, model_id)
        if known is None or sampled is None or len(sampled) == 0:
            return None
        return float(_numpy().isin(sampled, known).mean())

    def enter_cell(self, index):
        """The runner's note that notebook cell ``index`` runs next; saves what the last cell did."""
        self.safely(self._torch_unstepped_are_evaluations)
        self.cell = index
        if self.dirty:
            self.safely(self.checkpoint, True)

    def checkpoint(self, force=False):
        if not self.checkpoint_path:
            return
        now = time.monotonic()
        if not force and now - self.last_checkpoint < CHECKPOINT_EVERY:
            self.dirty = True
            return
        self.last_checkpoint, self.dirty = now, False
        temporary = f"{self.checkpoint_path}.{os.getpid()}.tmp"
        with open(temporary, "w", encoding="utf-8") as stream:
            stream.write(self.payload())
        os.replace(temporary, self.checkpoint_path)

    # -- the report ------------------------------------------------------------------------------

    def facts(self, histories=True):
        for key in list(self.torch_fits):
            self.safely(self._torch_finish_fit, key)
        fits = self.fits[:MAX_FITS]
        if not histories:
            fits = [{**fit, "history": {}} for fit in fits]
        return {
            "schema_version": 1,
            "nonce": self.nonce,
            "models": list(self.models.values()),
            "fits": fits,
            "evaluations": self.evaluations[:MAX_EVALUATIONS],
            "datasets": list(self.dataset_facts.values()),
            "budget": {},
            "warnings": list(self.warnings),
        }

    def payload(self):
        text = json.dumps(self.facts(), default=str)
        if len(text) > MAX_PAYLOAD:
            self.warn("probe: training histories dropped to keep the report small")
            text = json.dumps(self.facts(histories=False), default=str)
        if len(text) > MAX_PAYLOAD:
            facts = self.facts(histories=False)
            facts["evaluations"] = facts["evaluations"][:200]
            facts["fits"] = facts["fits"][:200]
            facts["warnings"].append("probe: most fits and evaluations dropped to keep the report small")
            text = json.dumps(facts, default=str)
        return text

    def report(self):
        """Called by the runner's last hidden cell: the facts as one private display_data."""
        from IPython.display import publish_display_data

        try:
            self.safely(self._torch_unstepped_are_evaluations)
            text = self.payload()
        except Exception as exc:
            warning = f"probe: report failed: {exc!r}"[:500]
            text = json.dumps({"schema_version": 1, "nonce": self.nonce, "warnings": [warning]})
        publish_display_data({FACTS_MIME: text})

    # -- datasets ----------------------------------------------------------------------------------

    def _patch_keras_mnist(self, module):
        spec = self.datasets["mnist"]
        original = module.load_data
        probe = self

        def load_data(path="mnist.npz"):
            __tracebackhide__ = True
            np = _numpy()
            with np.load(spec["path"], allow_pickle=False) as data:
                train = (data["x_train"], data["y_train"])
                test = (data["x_test"], data["y_test"])
            probe.dataset_facts.setdefault(
                "mnist",
                {"name": "mnist", "source": _text(spec.get("source", ""), 500),
                 "train_samples": int(len(train[0])), "test_samples": int(len(test[0]))},
            )  # fmt: skip
            return train, test

        functools.update_wrapper(load_data, original)
        module.load_data = load_data
        for name, other in list(sys.modules.items()):
            if name.startswith(("keras", "tensorflow")) and getattr(other, "load_data", None) is original:
                other.load_data = load_data

    # -- Keras -------------------------------------------------------------------------------------

    def _patch_keras_model(self, module):
        model_class = module.Model
        for method in ("fit", "evaluate", "predict"):
            setattr(model_class, method, _keras_wrapper(self, method, getattr(model_class, method)))

    def _keras_recorder(self):
        """A Keras Callback that counts epochs and keeps the logs (one class, made on first use)."""
        if self.keras_callback_class is None:
            from keras.src.callbacks.callback import Callback

            probe = self

            class GraderRecorder(Callback):
                def __init__(self, record=None):
                    super().__init__()
                    self.record, self.test_logs = record, None

                def on_train_begin(self, logs=None):
                    if self.record is not None:
                        self.record["steps"] = _int((self.params or {}).get("steps"))

                def on_epoch_end(self, epoch, logs=None):
                    if self.record is None:
                        return
                    self.record["epochs_run"] += 1
                    history = self.record["history"]
                    for key, value in (logs or {}).items():
                        value = _float(value)
                        if value is None or (key not in history and len(history) >= MAX_HISTORY_KEYS):
                            continue
                        series = history.setdefault(_text(key, 100), [])
                        if len(series) < MAX_HISTORY_EPOCHS:
                            series.append(value)
                    probe.safely(probe.checkpoint)

                def on_test_end(self, logs=None):
                    self.test_logs = dict(logs or {})

            self.keras_callback_class = GraderRecorder
        return self.keras_callback_class

    def _keras_call(self, method, original, signature, model, args, kwargs, frame):
        __tracebackhide__ = True
        try:
            bound = signature.bind(model, *args, **kwargs)
        except TypeError:
            return original(model, *args, **kwargs)  # let Keras report the bad call
        begin = {"fit": self._keras_fit_begin, "evaluate": self._keras_evaluate_begin}.get(method)
        pending = self.safely(begin or self._keras_predict_begin, model, bound, frame)
        if pending is not None and pending.get("recorder") is not None:
            callbacks = bound.arguments.get("callbacks")
            if callbacks is None or isinstance(callbacks, (list, tuple)):
                bound.arguments["callbacks"] = list(callbacks or []) + [pending["recorder"]]
        self.depth += 1
        try:
            result = original(*bound.args, **bound.kwargs)
        except BaseException as exc:
            self.depth -= 1
            if pending is not None:
                self.safely(self._keras_end, pending, None, exc)
            raise
        self.depth -= 1
        if pending is not None:
            self.safely(self._keras_end, pending, result, None)
        return result

    def _describe_keras(self, model):
        layers = []
        self._keras_layers(model, layers, set())
        params = None
        try:
            params = int(model.count_params())
        except Exception:
            pass
        return {"name": _text(getattr(model, "name", ""), 200), "layers": layers[:MAX_LAYERS], "params": params}

    def _keras_layers(self, container, out, seen):
        for layer in list(getattr(container, "layers", None) or []):
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            cls = type(layer).__name__
            if cls == "InputLayer":
                continue
            if isinstance(getattr(layer, "layers", None), list) and hasattr(layer, "fit"):
                self._keras_layers(layer, out, seen)  # a model used as a layer: expand it
                continue
            out.append(self._keras_layer(layer, cls))

    def _keras_layer(self, layer, cls):
        rate = getattr(layer, "rate", None) if cls.endswith(_DROPOUT_CLASSES) else None
        activation = getattr(layer, "activation", None)
        if activation is not None and not isinstance(activation, str):
            activation = getattr(activation, "__name__", None) or type(activation).__name__
        regularized = False
        for attr in _REGULARIZER_ATTRS:
            try:
                regularized = regularized or getattr(layer, attr, None) is not None
            except Exception:
                pass
        return {
            "cls": _text(cls, 200),
            "units": _int(getattr(layer, "units", None)),
            "rate": _float(rate) if rate is not None else None,
            "regularized": bool(regularized),
            "activation": _text(activation, 100) if activation else None,
        }

    def _keras_fit_begin(self, model, bound, frame):
        record_model = self._model(model, "keras", self._describe_keras, frame, refresh=True)
        if record_model is None:
            return None
        if len(self.fits) >= MAX_FITS:
            self.warn(f"probe: more than {MAX_FITS} fits; later ones are not recorded")
            return None
        arguments = dict(bound.signature.parameters)
        values = {name: bound.arguments.get(name, parameter.default) for name, parameter in arguments.items()}
        data = _Data(values.get("x"))
        split = _float(values.get("validation_split")) or 0.0
        validation_data = values.get("validation_data")
        validation, held_out = "none", None
        if validation_data is not None:
            validation = "data"
            held_out = _Data(validation_data[0] if isinstance(validation_data, (list, tuple)) else validation_data)
        elif split > 0 and data.count:
            validation = "split"  # Keras keeps the first rows for training, the last for validation
            split_at = int(math.floor(data.count * (1.0 - split)))
            data, held_out = data.part(0, split_at), data.part(split_at, data.count)
        epochs, initial = _int(values.get("epochs")), _int(values.get("initial_epoch")) or 0
        fit = {
            "model": record_model["id"],
            "cell": self.cell,
            "epochs_requested": None if epochs is None else max(0, epochs - initial),
            "epochs_run": 0,
            "samples": data.count,
            "steps": _int(values.get("steps_per_epoch")),
            "data": data.ref(data.sampled_hashes()),
            "validation": validation,
            "validation_data": held_out.ref(held_out.sampled_hashes()) if held_out is not None else None,
            "history": {},
        }
        self._remember_rows(self.trained_rows, record_model["id"], data.all_hashes())
        if held_out is not None:
            self._remember_rows(self.validated_rows, record_model["id"], held_out.all_hashes())
        self.fits.append(fit)
        return {"kind": "fit", "record": fit, "recorder": self._keras_recorder()(fit)}

    def _keras_evaluate_begin(self, model, bound, frame):
        return self._keras_inference_begin(model, bound, frame, "evaluate")

    def _keras_predict_begin(self, model, bound, frame):
        return self._keras_inference_begin(model, bound, frame, "predict")

    def _keras_inference_begin(self, model, bound, frame, kind):
        record_model = self._model(model, "keras", self._describe_keras, frame)
        if record_model is None or len(self.evaluations) >= MAX_EVALUATIONS:
            if record_model is not None:
                self.warn(f"probe: more than {MAX_EVALUATIONS} evaluations; later ones are not recorded")
            return None
        data = _Data(bound.arguments.get("x"))
        sampled = data.sampled_hashes()
        evaluation = {
            "model": record_model["id"],
            "cell": self.cell,
            "kind": kind,
            "samples": data.count,
            "data": data.ref(sampled),
            "overlap_with_training": self._overlap(self.trained_rows, record_model["id"], sampled),
            "overlap_with_validation": self._overlap(self.validated_rows, record_model["id"], sampled),
            "metrics": {},
        }
        recorder = self._keras_recorder()() if kind == "evaluate" else None
        return {"kind": kind, "record": evaluation, "recorder": recorder, "model": model}

    def _keras_end(self, pending, result, error):
        record = pending["record"]
        if pending["kind"] == "fit":
            if error is not None:
                record["error"] = _text(f"{type(error).__name__}: {error}", 2000)
            elif not record["history"] and hasattr(result, "history"):  # no recorder (callbacks list)
                record["epochs_run"] = len(getattr(result, "epoch", []) or [])
                record["history"] = {
                    _text(k, 100): [v for v in map(_float, values) if v is not None][:MAX_HISTORY_EPOCHS]
                    for k, values in list(result.history.items())[:MAX_HISTORY_KEYS]
                }
            self.checkpoint(force=True)
            return
        if error is not None:
            return  # a failed evaluate/predict measured nothing
        if pending["kind"] == "evaluate":
            logs = pending["recorder"].test_logs if pending["recorder"] is not None else None
            if not logs and isinstance(result, dict):
                logs = result
            if not logs:
                try:
                    logs = pending["model"].get_metrics_result()
                except Exception:
                    logs = {}
            metrics = {}
            for key, value in list((logs or {}).items())[:50]:
                value = _float(value)
                if value is not None:
                    metrics[_text(key, 100)] = value
            record["metrics"] = metrics
        self.evaluations.append(record)
        self.checkpoint(force=pending["kind"] == "evaluate")

    # -- PyTorch -----------------------------------------------------------------------------------

    def _patch_torch(self, torch):
        from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook
        from torch.optim.optimizer import register_optimizer_step_post_hook

        probe = self
        active = [0]  # module forwards in progress: only the outermost one is a model call

        def before(module, inputs):
            if active[0] == 0:
                probe.safely(probe._torch_forward, torch, module, inputs)
            active[0] += 1

        def after(module, inputs, output):
            active[0] = max(0, active[0] - 1)

        def stepped(optimizer, args, kwargs):
            probe.safely(probe._torch_step, optimizer)

        register_module_forward_pre_hook(before)
        register_module_forward_hook(after, always_call=True)
        register_optimizer_step_post_hook(stepped)

    def _describe_torch(self, module):
        layers = []
        for sub in module.modules():
            if next(iter(sub.children()), None) is not None:
                continue  # containers: their leaves are listed
            cls = type(sub).__name__
            rate = getattr(sub, "p", None) if cls.endswith(_DROPOUT_CLASSES) else None
            units = getattr(sub, "out_features", None) or getattr(sub, "hidden_size", None)
            rate = _float(rate) if rate is not None else None
            layers.append({"cls": _text(cls, 200), "units": _int(units), "rate": rate})
            if len(layers) >= MAX_LAYERS:
                break
        params = sum(int(p.numel()) for p in module.parameters())
        return {"name": "", "layers": layers, "params": params}

    def _torch_forward(self, torch, module, inputs):
        if next(module.parameters(), None) is None or isinstance(module, torch.nn.modules.loss._Loss):
            return  # losses, activations, transforms: not models
        first = next((value for value in inputs if isinstance(value, torch.Tensor)), None)
        if first is None:
            return
        record = self.models.get(id(module))
        if record is None:
            record = self._model(module, "torch", self._describe_torch)
            if record is None:
                return
            for parameter in module.parameters():
                self.torch_param_owner.setdefault(id(parameter), record["id"])
        rows = first.detach().cpu().numpy()
        rows = rows.reshape(1) if rows.ndim == 0 else rows
        batch = {"count": int(rows.shape[0]), "shape": [int(size) for size in rows.shape][:10],
                 "dtype": _dtype_name(rows.dtype), "cell": self.cell, "location": _caller_outside_torch()}  # fmt: skip
        if module.training and torch.is_grad_enabled():
            # Training only if an optimizer step follows: a forward in train mode that is never
            # stepped (accuracy computed without model.eval()) is an evaluation.
            batch["hashes"] = row_hashes(rows)
            self.torch_unstepped.setdefault(record["id"], []).append(batch)
            return
        batch["hashes"] = row_hashes(rows[:SAMPLE_ROWS])
        self._torch_evaluated(record["id"], batch)

    def _torch_evaluated(self, model_id, batch):
        """Adds an eval batch to the record of this model called from this line of this cell: the
        batches of one evaluation loop are one record, evaluations on two lines are two."""
        key = (model_id, batch["cell"], batch["location"])
        state = self.torch_evaluations.get(key)
        if state is None:
            if len(self.evaluations) >= MAX_EVALUATIONS:
                return
            sampled = batch["hashes"][:SAMPLE_ROWS] if batch["hashes"] is not None else None
            record = {"model": model_id, "cell": batch["cell"], "kind": "eval_forward", "samples": 0,
                      "data": {"id": _fingerprint(batch["shape"][1:], sampled), "shape": batch["shape"],
                               "dtype": batch["dtype"], "kind": "tensor"},
                      "overlap_with_training": None, "overlap_with_validation": None, "metrics": {}}  # fmt: skip
            state = {"record": record, "checked": 0, "hits": 0}
            self.torch_evaluations[key] = state
            self.evaluations.append(record)
        record = state["record"]
        record["samples"] += batch["count"]
        room = SAMPLE_ROWS - state["checked"]
        known = self._merged_rows(self.trained_rows, model_id)
        if room > 0 and batch["hashes"] is not None and known is not None:
            sampled = batch["hashes"][:room]
            state["checked"] += len(sampled)
            state["hits"] += int(_numpy().isin(sampled, known).sum())
            record["overlap_with_training"] = state["hits"] / state["checked"]
        self.safely(self.checkpoint)

    def _torch_step(self, optimizer):
        for group in optimizer.param_groups:
            for parameter in group.get("params", []):
                model_id = self.torch_param_owner.get(id(parameter))
                if model_id is None:
                    continue
                fit = self._torch_fit(model_id)
                if fit is not None:
                    fit["steps"] += 1
                    for batch in self.torch_unstepped.pop(model_id, []):
                        if fit["seen"] == 0:
                            fit["row_shape"], fit["dtype"] = batch["shape"][1:], batch["dtype"]
                        fit["seen"] += batch["count"]
                        if batch["hashes"] is not None:
                            fit["hashes"].append(batch["hashes"])
                            self.pending_rows.setdefault(model_id, []).append(batch["hashes"])
                self.safely(self.checkpoint)
                return

    def _torch_unstepped_are_evaluations(self):
        """Train-mode forwards that no optimizer step followed, seen at a cell boundary."""
        unstepped, self.torch_unstepped = self.torch_unstepped, {}
        for model_id, batches in unstepped.items():
            for batch in batches:
                self._torch_evaluated(model_id, batch)

    def _torch_fit(self, model_id):
        key = (model_id, self.cell)
        fit = self.torch_fits.get(key)
        if fit is None:
            if len(self.fits) >= MAX_FITS:
                return None
            record = {"model": model_id, "cell": self.cell, "epochs_requested": None, "epochs_run": 0,
                      "samples": 0, "steps": 0, "data": None, "validation": "none",
                      "validation_data": None, "history": {}}  # fmt: skip
            self.fits.append(record)
            fit = {"record": record, "seen": 0, "hashes": [], "steps": 0}
            self.torch_fits[key] = fit
        return fit

    def _torch_finish_fit(self, key):
        """Brings a PyTorch fit record up to date: samples = distinct rows, epochs = passes over them."""
        fit = self.torch_fits.get(key)
        if fit is None:
            return
        record = fit["record"]
        record["steps"] = fit["steps"]
        if fit["hashes"]:
            np = _numpy()
            merged = np.unique(np.concatenate(fit["hashes"]))
            fit["hashes"] = [merged]
            record["samples"] = int(len(merged))
            record["epochs_run"] = max(1, int(round(fit["seen"] / max(1, len(merged)))))
            shape = [len(merged), *fit.get("row_shape", [])][:10]
            record["data"] = {"id": _fingerprint(shape, merged[:SAMPLE_ROWS]), "shape": shape,
                              "dtype": fit.get("dtype", ""), "kind": "tensor"}  # fmt: skip
        elif fit["steps"]:
            record["epochs_run"] = max(record["epochs_run"], 1)


def _caller_outside_torch():
    """(file, line) of the code that called the module: the first frame outside torch and the probe."""
    own = _caller_outside_torch.__code__.co_filename  # "<grader-probe>" inside the kernel
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename != own and f"{os.sep}torch{os.sep}" not in filename:
            return filename, frame.f_lineno
        frame = frame.f_back
    return None


def _keras_wrapper(probe, method, original):
    """``keras.Model.<method>`` replaced: records the call, then calls the original exactly once."""
    signature = inspect.signature(original)

    def wrapper(model, *args, **kwargs):
        __tracebackhide__ = True
        if probe.depth:  # Keras calling itself (fit runs evaluate for validation): not a student call
            return original(model, *args, **kwargs)
        return probe._keras_call(method, original, signature, model, args, kwargs, sys._getframe(1))

    functools.update_wrapper(wrapper, original)
    return wrapper
