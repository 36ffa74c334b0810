"""Keras recording: every ``fit`` / ``evaluate`` / ``predict`` (patched once on ``keras.Model``, so
Sequential, functional and subclassed models are all covered), with the model's layers, the data
sizes and how much of the evaluation data the model was trained (or validated) on, by row hashes.

The original is called exactly once with the caller's arguments (plus one recording callback),
except under the fast budget (``budget.py``). Kernel-side code (see ``common.py``)."""

import functools
import hashlib
import inspect
import math
import os
import sys

from grader.execute.probe.common import (
    _DROPOUT_CLASSES,
    MAX_EVALUATIONS,
    MAX_FITS,
    MAX_HISTORY_EPOCHS,
    MAX_HISTORY_KEYS,
    MAX_LAYERS,
    _fitted_objects,
    _float,
    _int,
    _optimizer_fact,
    _text,
)  # fmt: skip
from grader.execute.probe.rows import _Data

_REGULARIZER_ATTRS = (
    "kernel_regularizer", "bias_regularizer", "activity_regularizer", "recurrent_regularizer",
    "depthwise_regularizer", "pointwise_regularizer", "beta_regularizer", "gamma_regularizer",
    "embeddings_regularizer",
)  # fmt: skip


class _KerasRecorder:
    """Records the Keras models a notebook fits, evaluates and predicts with."""

    def __init__(self, probe):
        self.probe = probe
        self.callback_class = None
        self.model_class = None  # keras.Model, once patched
        self.depth = 0  # > 0 inside a recorded call: Keras' own nested calls are not recorded
        self.untrained = {}  # model id -> (the model, the hash of its weights before its first fit)
        self.left = {}  # model id -> the hash of the weights its latest fit left

    def hooks(self):
        """Module -> patch applied once the notebook imports it."""
        return {"keras.src.models.model": self._patch_keras_model}

    def _patch_keras_model(self, module):
        model_class = module.Model
        self.model_class = model_class
        for method in ("fit", "evaluate", "predict"):
            self.probe.integrity.remember(
                model_class, method, _keras_wrapper(self, method, getattr(model_class, method))
            )

    def _keras_recorder(self):
        """A Keras Callback that counts epochs and keeps the logs (one class, made on first use)."""
        if self.callback_class is None:
            from keras.src.callbacks.callback import Callback

            probe = self.probe

            class GraderRecorder(Callback):
                def __init__(self, record=None):
                    super().__init__()
                    self.record, self.test_logs, self.weights_before = record, None, None
                    self.batches, self.late = 0, False

                def on_train_begin(self, logs=None):
                    if self.record is not None:
                        self.record["steps"] = _int((self.params or {}).get("steps"))
                        self.weights_before = probe.safely(probe.keras._weights_hash, self.model)

                def on_train_batch_end(self, batch, logs=None):
                    # A model built by this fit (a subclassed one) has weights only after its first
                    # step: the later steps must change them.
                    self.batches += 1
                    if self.record is not None and self.weights_before is None and self.batches == 1:
                        self.weights_before = probe.safely(probe.keras._weights_hash, self.model)
                        self.late = True

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

            self.callback_class = GraderRecorder
        return self.callback_class

    def _keras_call(self, method, original, signature, model, args, kwargs, frame):
        __tracebackhide__ = True
        try:
            bound = signature.bind(model, *args, **kwargs)
        except TypeError:
            return original(model, *args, **kwargs)  # let Keras report the bad call
        begin = {"fit": self._keras_fit_begin, "evaluate": self._keras_evaluate_begin}.get(method)
        pending = self.probe.safely(begin or self._keras_predict_begin, model, bound, frame)
        # The budget cuts the arguments only after the facts were taken from the originals.
        cut = None
        if self.probe.budget:
            arguments = dict(bound.arguments)  # committed only if the whole cut succeeds
            cut = self.probe.safely(self.probe.keras_budget._keras_budget, method, arguments)
            if cut:
                bound.arguments = arguments
        if cut and pending is not None:
            pending["record"]["budgeted"] = True
            if "samples" in cut:
                pending["record"]["samples"] = cut["samples"][1]
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
                self.probe.safely(self._keras_end, pending, None, exc)
            raise
        self.depth -= 1
        if pending is not None:
            self.probe.safely(self._keras_end, pending, result, None)
        if cut:
            restored = self.probe.safely(self.probe.keras_budget._keras_budget_end, method, cut, result)
            if restored is not None:
                result = restored
        return result

    def _keras_fit_begin(self, model, bound, frame):
        record_model = self.probe._model(model, "keras", _describe_keras, frame, refresh=True)
        if record_model is None:
            return None
        if len(self.probe.fits) >= MAX_FITS:
            self.probe.warn(f"probe: more than {MAX_FITS} fits; later ones are not recorded")
            return None
        arguments = dict(bound.signature.parameters)
        values = {name: bound.arguments.get(name, parameter.default) for name, parameter in arguments.items()}
        data = _Data(values.get("x"))
        dataset_split, origin = self.probe.safely(self.probe.datasets._provenance, data) or (None, None)
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
            "cell": self.probe.cell,
            "epochs_requested": None if epochs is None else max(0, epochs - initial),
            "epochs_run": 0,
            "samples": data.count,
            "steps": _int(values.get("steps_per_epoch")),
            "data": data.ref(data.sampled_hashes()),
            "validation": validation,
            "validation_data": held_out.ref(held_out.sampled_hashes()) if held_out is not None else None,
            "history": {},
            "dataset_split": dataset_split,
            "dataset": origin,
            "budgeted": False,
            "optimizer": self.probe.safely(_optimizer_fact, getattr(model, "optimizer", None)),
        }
        self.probe._remember_rows(self.probe.trained_rows, record_model["id"], data.all_hashes())
        if validation == "data":  # Keras evaluates the model on it every epoch
            fit["validation_overlap_with_training"] = self.probe._overlap(
                self.probe.trained_rows, record_model["id"], held_out.sampled_hashes()
            )
            fit["validation_dataset_split"] = self.probe.safely(self.probe.datasets._validation_split, held_out)
        if held_out is not None:
            self.probe._remember_rows(self.probe.validated_rows, record_model["id"], held_out.all_hashes())
        self.probe.fits.append(fit)
        before = self.probe.safely(self._weights_hash, model)
        left = self.left.get(record_model["id"])
        if left is not None and before is not None:
            fit["fresh_start"] = before != left
        return {
            "kind": "fit",
            "record": fit,
            "recorder": self._keras_recorder()(fit),
            "model": model,
            "weights": before,
        }

    def _weights_hash(self, model):
        """A hash of the model's weights, read through Keras' own ``Model.get_weights`` (a subclass
        may override its own); None when there are none yet (built by the fit itself)."""
        weights = self.model_class.get_weights(model)
        if not weights:
            return None
        digest = hashlib.sha256()
        for array in weights:
            digest.update(array.tobytes())
        return digest.hexdigest()

    def close_models(self):
        """Before the report: a model whose weights are those it had before its first fit (put back
        in a later cell, ``set_weights``) learned nothing from any of its fits."""
        for model_id, (model, untrained) in self.untrained.items():
            if untrained is None or self.probe.safely(self._weights_hash, model) != untrained:
                continue
            for fit in self.probe.fits:
                if fit["model"] == model_id:
                    fit["weights_changed"] = False

    def _keras_evaluate_begin(self, model, bound, frame):
        return self._keras_inference_begin(model, bound, frame, "evaluate")

    def _keras_predict_begin(self, model, bound, frame):
        return self._keras_inference_begin(model, bound, frame, "predict")

    def _keras_inference_begin(self, model, bound, frame, kind):
        record_model = self.probe._model(model, "keras", _describe_keras, frame)
        if record_model is None or len(self.probe.evaluations) >= MAX_EVALUATIONS:
            if record_model is not None:
                self.probe.warn(f"probe: more than {MAX_EVALUATIONS} evaluations; later ones are not recorded")
            return None
        data = _Data(bound.arguments.get("x"))
        sampled = data.sampled_hashes()
        evaluation = {
            "model": record_model["id"],
            "cell": self.probe.cell,
            "kind": kind,
            "samples": data.count,
            "data": data.ref(sampled),
            "overlap_with_training": self.probe._overlap(self.probe.trained_rows, record_model["id"], sampled),
            "overlap_with_validation": self.probe._overlap(self.probe.validated_rows, record_model["id"], sampled),
            "metrics": {},
            "dataset_split": self.probe.safely(self.probe.datasets._dataset_split, data),
            "budgeted": False,
            "after_fit": self.probe.latest_fit_index(record_model["id"]),
        }
        recorder = self._keras_recorder()() if kind == "evaluate" else None
        return {"kind": kind, "record": evaluation, "recorder": recorder, "model": model}

    def _keras_end(self, pending, result, error):
        record = pending["record"]
        if pending["kind"] == "fit":
            recorder = pending["recorder"]
            before = pending["weights"] or recorder.weights_before
            self.untrained.setdefault(record["model"], (pending["model"], before))
            after = self.probe.safely(self._weights_hash, pending["model"])
            self.left[record["model"]] = after
            if before is not None and after is not None and not (recorder.late and recorder.batches < 2):
                record["weights_changed"] = before != after
            if error is not None:
                record["error"] = _text(f"{type(error).__name__}: {error}", 2000)
            elif not record["history"] and hasattr(result, "history"):  # no recorder (callbacks list)
                record["epochs_run"] = len(getattr(result, "epoch", []) or [])
                record["history"] = {
                    _text(k, 100): [v for v in map(_float, values) if v is not None][:MAX_HISTORY_EPOCHS]
                    for k, values in list(result.history.items())[:MAX_HISTORY_KEYS]
                }
            self.probe.checkpoint(force=True)
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
        self.probe.evaluations.append(record)
        self.probe.checkpoint(force=pending["kind"] == "evaluate")


def _describe_keras(model):
    layers = []
    _keras_layers(model, layers, set())
    params = None
    try:
        params = int(model.count_params())
    except Exception:
        pass
    return {"name": _text(getattr(model, "name", ""), 200), "layers": layers[:MAX_LAYERS], "params": params}


def _keras_layers(container, out, seen):
    for layer in _tracked_layers(container):
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        cls = type(layer).__name__
        if cls == "InputLayer":
            continue
        if isinstance(getattr(layer, "layers", None), list) and hasattr(layer, "fit"):
            _keras_layers(layer, out, seen)  # a model used as a layer: expand it
            continue
        out.append(_keras_layer(layer, cls))


def _keras_layer(layer, cls):
    rate = getattr(layer, "rate", None) if cls.endswith(_DROPOUT_CLASSES) else None
    activation = getattr(layer, "activation", None)
    if activation is not None and not isinstance(activation, str):
        activation = getattr(activation, "__name__", None) or type(activation).__name__
    regularizer = None
    for attr in _REGULARIZER_ATTRS:
        try:
            found = getattr(layer, attr, None)
        except Exception:
            continue
        if found is not None and regularizer is None:
            regularizer = type(found).__name__
    regularized = regularizer is not None
    return {
        "cls": _text(cls, 200),
        "module": _text(type(layer).__module__, 300),
        "units": _int(getattr(layer, "units", None)),
        "rate": _float(rate) if rate is not None else None,
        "regularized": bool(regularized),
        "regularizer": _text(regularizer, 100) if regularizer else None,
        "activation": _text(activation, 100) if activation else None,
    }


def _tracked_layers(container):
    """The layers a Keras model or layer holds, from Keras' own ``layers`` property (a subclass may
    override its own to list layers it never uses)."""
    for cls in type(container).__mro__:
        prop = vars(cls).get("layers")
        if isinstance(prop, property) and cls.__module__.startswith("keras."):
            return list(prop.fget(container) or [])
    return list(getattr(container, "layers", None) or [])


def _keras_wrapper(recorder, method, original):
    """``keras.Model.<method>`` replaced: records the call, then calls the original exactly once."""
    signature = inspect.signature(original)

    def wrapper(model, *args, **kwargs):
        __tracebackhide__ = True
        if recorder.depth:  # Keras calling itself (fit runs evaluate for validation): not a student call
            return original(model, *args, **kwargs)
        return recorder._keras_call(method, original, signature, model, args, kwargs, sys._getframe(1))

    functools.update_wrapper(wrapper, original)
    return wrapper


def _save_keras_models(probe, folder):
    """Each Keras model that was fit, saved as ``<model id>.keras`` in ``folder`` for the clean
    verifier outside the kernel. A model that cannot be saved is said in the warnings; its checks
    then rest on these facts alone, flagged."""
    for model_id, model in _fitted_objects(probe, "keras"):
        try:
            from keras.src.saving import saving_api

            saving_api.save_model(model, os.path.join(folder, f"{int(model_id)}.keras"))
        except Exception as exc:
            probe.warn(f"probe: model {model_id} could not be saved for verification: {type(exc).__name__}: {exc}")
