"""Compatibility: what students wrote for Keras 2, older TensorFlow, NumPy and pandas runs here.

Each API a newer release removed, and that has an exact equivalent today, is translated when the
notebook calls it, with a note in the facts ("SGD(lr=0.01) ran as SGD(learning_rate=0.01): lr was
removed in Keras 3"). A translation never changes what the code computes: the equivalent call gets
the same values, and what the probe records (a fit, an evaluation) is that of the translated call.
- an optimizer's ``lr=`` -> ``learning_rate=`` (Keras 2 let ``lr`` win over ``learning_rate``);
- ``keras.optimizers.legacy.<Name>`` -> ``keras.optimizers.<Name>``;
- ``fit_generator`` / ``evaluate_generator`` / ``predict_generator`` -> ``fit`` / ``evaluate`` /
  ``predict`` (without the Keras 2 queue arguments ``workers``, ``use_multiprocessing``,
  ``max_queue_size``, which only said how to read the generator); ``predict_classes`` -> the
  classes of ``predict`` (argmax, or > 0.5 for one output); ``predict_proba`` -> ``predict``;
- ``layers.experimental.preprocessing.<Name>``, ``keras.layers.core`` and its siblings,
  ``keras.utils.np_utils`` -> the names in ``keras.layers`` / ``keras.utils``;
- ``np.float`` / ``np.int`` / ``np.bool`` / ``np.object`` / ``np.str`` / ``np.complex`` -> the builtins;
- ``DataFrame.append`` / ``Series.append`` -> ``pd.concat``;
- a History's ``history["acc"]`` / ``history["val_acc"]`` (Keras before 2.3) -> ``"accuracy"`` /
  ``"val_accuracy"``, when the history has no key of the old name;
- torchvision's ``Normalize`` given more means and deviations than the image has channels (three for
  a grey image) -> the first ones, one per channel, as torchvision before 0.3 used them;
- on a machine without a GPU, a tensor's or a model's ``.to("cuda")`` / ``.to(torch.device("cuda"))``
  / ``.cuda()`` -> the CPU, where the same operations compute the same values (code written for
  Colab's GPU often names the device without asking whether there is one).
Kernel-side code (see ``common.py``)."""

import sys
import types

from grader.execute.probe.common import _text

MAX_TRANSLATIONS = 50
_QUEUE_ARGUMENTS = ("workers", "use_multiprocessing", "max_queue_size")
_GENERATOR_SIGNATURES = {
    "fit_generator": ("fit", ("steps_per_epoch", "epochs", "verbose", "callbacks", "validation_data", "validation_steps",
                              "validation_freq", "class_weight", "max_queue_size", "workers", "use_multiprocessing",
                              "shuffle", "initial_epoch")),
    "evaluate_generator": ("evaluate", ("steps", "callbacks", "max_queue_size", "workers", "use_multiprocessing", "verbose")),
    "predict_generator": ("predict", ("steps", "callbacks", "max_queue_size", "workers", "use_multiprocessing", "verbose")),
}  # fmt: skip
_NUMPY_ALIASES = {"float": float, "int": int, "bool": bool, "object": object, "str": str, "complex": complex}
_LAYER_SUBMODULES = (
    "core",
    "convolutional",
    "recurrent",
    "normalization",
    "pooling",
    "merge",
    "advanced_activations",
    "embeddings",
)
_LEGACY_OPTIMIZERS = ("Adagrad", "Adam", "Ftrl", "RMSprop", "SGD")


class _Compat:
    """Translates removed APIs to today's equivalents and keeps a note of each kind used."""

    def __init__(self, probe):
        self.probe = probe
        self.translations = []  # one note per kind of translation, in the order first used

    def hooks(self):
        """Module -> patch applied once the notebook imports it."""
        return {
            "keras.src.optimizers.base_optimizer": self._patch_optimizer_lr,
            "keras.src.models.model": self._patch_model_methods,
            "keras.optimizers.legacy": self._patch_legacy_optimizers,
            "keras._tf_keras.keras.optimizers.legacy": self._patch_legacy_optimizers,
            "keras.layers": self._patch_layer_modules,
            "keras._tf_keras.keras.layers": self._patch_layer_modules,
            "keras.utils": self._patch_np_utils,
            "keras._tf_keras.keras.utils": self._patch_np_utils,
            "numpy": self._patch_numpy_aliases,
            "pandas.core.frame": self._patch_append,
            "pandas.core.series": self._patch_append,
            "torch": self._patch_cuda_moves,
            "keras.src.callbacks.history": self._patch_history_keys,
            "torchvision.transforms.transforms": self._patch_normalize,
        }

    def note(self, text):
        if len(self.translations) < MAX_TRANSLATIONS and text not in self.translations:
            self.translations.append(_text(text, 300))

    def _patch_optimizer_lr(self, module):
        base = module.BaseOptimizer
        original = base.__init__
        compat = self

        def __init__(_optimizer, *args, **kwargs):
            __tracebackhide__ = True
            if "lr" in kwargs:
                rate = kwargs.pop("lr")
                if args and "learning_rate" not in kwargs:
                    args = (rate, *args[1:])
                else:
                    kwargs["learning_rate"] = rate
                name = type(_optimizer).__name__
                compat.note(f"{name}(lr={rate!r}) ran as {name}(learning_rate={rate!r}): lr was removed in Keras 3")
            return original(_optimizer, *args, **kwargs)

        __init__.__wrapped__ = original
        self.probe.integrity.remember(base, "__init__", __init__)

    def _patch_legacy_optimizers(self, module):
        parent = module.__name__.rsplit(".", 1)[0]  # imported while its parent still loads: looked up at the call
        for name in _LEGACY_OPTIMIZERS:
            if hasattr(module, name):
                self.probe.integrity.remember(module, name, self._legacy_optimizer(name, parent))

    def _legacy_optimizer(self, name, parent):
        compat = self

        def make(*args, **kwargs):
            __tracebackhide__ = True
            compat.note(
                f"keras.optimizers.legacy.{name} ran as keras.optimizers.{name}: the legacy optimizers were removed in Keras 3"
            )
            return getattr(sys.modules[parent], name)(*args, **kwargs)

        make.__name__ = make.__qualname__ = name
        return make

    def _patch_model_methods(self, module):
        model = module.Model
        for old, (new, names) in _GENERATOR_SIGNATURES.items():
            if old not in vars(model):
                self.probe.integrity.remember(model, old, self._generator_method(old, new, names))
        for old in ("predict_classes", "predict_proba"):
            if old not in vars(model):
                self.probe.integrity.remember(model, old, self._prediction_method(old))

    def _generator_method(self, old, new, names):
        compat = self

        def method(_model, generator, *args, **kwargs):
            __tracebackhide__ = True
            kwargs.update(zip(names, args))
            dropped = [name for name in _QUEUE_ARGUMENTS if kwargs.pop(name, None) is not None]
            extra = f" (without {', '.join(dropped)}: Keras 3 has no queue arguments)" if dropped else ""
            compat.note(f"{old}(...) ran as {new}(...){extra}: {old} was removed in Keras 3")
            return getattr(_model, new)(generator, **kwargs)

        method.__name__ = method.__qualname__ = old
        return method

    def _prediction_method(self, old):
        compat = self

        def method(_model, x, batch_size=32, verbose=0):
            __tracebackhide__ = True
            predicted = _model.predict(x, batch_size=batch_size, verbose=verbose)
            if old == "predict_proba":
                compat.note("predict_proba(x) ran as predict(x): predict_proba was removed in TensorFlow 2.6")
                return predicted
            compat.note(
                "predict_classes(x) ran as predict(x).argmax(axis=-1) (> 0.5 for one output): predict_classes was removed in TensorFlow 2.6"
            )
            if predicted.shape[-1] > 1:
                return predicted.argmax(axis=-1)
            return (predicted > 0.5).astype("int32")

        method.__name__ = method.__qualname__ = old
        return method

    def _patch_layer_modules(self, module):
        """``layers.experimental.preprocessing.X`` and ``keras.layers.core.X``: X from ``keras.layers``."""
        preprocessing = _Alias(f"{module.__name__}.experimental.preprocessing", module, self,
                               "layers.experimental.preprocessing.{name} ran as layers.{name}: the preprocessing layers left experimental in TensorFlow 2.6")  # fmt: skip
        experimental = types.ModuleType(f"{module.__name__}.experimental")
        experimental.preprocessing = preprocessing
        if not hasattr(module, "experimental"):
            self.probe.integrity.remember(module, "experimental", experimental)
        sys.modules.setdefault(experimental.__name__, experimental)
        sys.modules.setdefault(preprocessing.__name__, preprocessing)
        for name in _LAYER_SUBMODULES:
            sys.modules.setdefault(f"{module.__name__}.{name}", _Alias(f"{module.__name__}.{name}", module, self,
                                   f"keras.layers.{name}.{{name}} ran as keras.layers.{{name}}: Keras 3 has no keras.layers.{name}"))  # fmt: skip
        if module.__name__.startswith("keras._tf_keras."):  # tf.keras.layers... as TensorFlow names it
            for name in (experimental.__name__, preprocessing.__name__):
                sys.modules.setdefault("tensorflow" + name[len("keras._tf_keras") :], sys.modules[name])

    def _patch_np_utils(self, module):
        alias = _Alias(f"{module.__name__}.np_utils", module, self,
                       "keras.utils.np_utils.{name} ran as keras.utils.{name}: np_utils was removed in Keras 3")  # fmt: skip
        if not hasattr(module, "np_utils"):
            self.probe.integrity.remember(module, "np_utils", alias)
        sys.modules.setdefault(alias.__name__, alias)

    def _patch_numpy_aliases(self, module):
        original = getattr(module, "__getattr__", None)
        if original is None:
            return
        compat = self

        def __getattr__(name):
            if name in _NUMPY_ALIASES:
                compat.note(f"np.{name} ran as {name}: the alias was removed in NumPy 1.24")
                return _NUMPY_ALIASES[name]
            return original(name)

        self.probe.integrity.remember(module, "__getattr__", __getattr__)

    def _patch_append(self, module):
        owner = getattr(module, "DataFrame" if module.__name__.endswith(".frame") else "Series", None)
        if not isinstance(owner, type) or "append" in vars(owner):
            return
        compat = self

        def append(_frame, other, ignore_index=False, verify_integrity=False, sort=False):
            __tracebackhide__ = True
            pd = sys.modules["pandas"]
            pieces = (
                list(other)
                if isinstance(other, (list, tuple)) and other and not isinstance(other[0], dict)
                else [other]
            )
            frames = [_as_frame(pd, piece, _frame) for piece in pieces]
            compat.note(
                f"{type(_frame).__name__}.append(...) ran as pd.concat([...]): append was removed in pandas 2.0"
            )
            return pd.concat([_frame, *frames], ignore_index=ignore_index, verify_integrity=verify_integrity, sort=sort)

        self.probe.integrity.remember(owner, "append", append)

    def _patch_history_keys(self, module):
        history = module.History
        original = history.__init__
        compat = self

        def __init__(_history, *args, **kwargs):
            original(_history, *args, **kwargs)
            _history.history = _RenamedKeys(compat, _history.history)

        __init__.__wrapped__ = original
        self.probe.integrity.remember(history, "__init__", __init__)

    def _patch_normalize(self, module):
        normalize = module.Normalize
        original = normalize.forward
        compat = self

        def forward(_normalize, tensor):
            __tracebackhide__ = True
            channels = tensor.shape[-3] if getattr(tensor, "ndim", 0) >= 3 else None
            mean, std = _normalize.mean, _normalize.std
            if channels and _longer(mean, channels) and _longer(std, channels):
                compat.note(
                    f"Normalize(mean={tuple(mean)}, std={tuple(std)}) on {channels}-channel images ran with the first"
                    f" {channels}: torchvision before 0.3 used one value per channel and ignored the rest"
                )
                functional = sys.modules["torchvision.transforms.functional"]
                return functional.normalize(tensor, list(mean)[:channels], list(std)[:channels], _normalize.inplace)
            return original(_normalize, tensor)

        forward.__wrapped__ = original
        self.probe.integrity.remember(normalize, "forward", forward)

    def _patch_cuda_moves(self, torch):
        """Without a GPU, ``.to(<cuda device>)`` and ``.cuda()`` of tensors and modules stay on the CPU."""
        if torch.cuda.is_available():
            return
        for owner in (torch.Tensor, torch.nn.Module):
            self.probe.integrity.remember(owner, "to", self._cpu_to(torch, owner.to))
            self.probe.integrity.remember(owner, "cuda", self._cpu_cuda(owner.cpu))

    def _cuda_note(self):
        self.note(".to('cuda') and .cuda() ran on the CPU: the grading machine has no GPU")

    def _cpu_to(self, torch, original):
        compat = self

        def to(_self, *args, **kwargs):
            __tracebackhide__ = True
            if any(_is_cuda(torch, value) for value in (*args, kwargs.get("device"))):
                compat._cuda_note()
                args = tuple("cpu" if _is_cuda(torch, value) else value for value in args)
                if _is_cuda(torch, kwargs.get("device")):
                    kwargs["device"] = "cpu"
            return original(_self, *args, **kwargs)

        to.__wrapped__ = original
        return to

    def _cpu_cuda(self, cpu):
        compat = self

        def cuda(_self, device=None, non_blocking=False, **kwargs):
            __tracebackhide__ = True
            compat._cuda_note()
            return cpu(_self)

        cuda.__wrapped__ = cpu
        return cuda


class _RenamedKeys(dict):
    """A History's metrics, also under the names Keras 2.2 gave accuracy (read, never listed)."""

    _OLD_NAMES = {"acc": "accuracy", "val_acc": "val_accuracy"}

    def __init__(self, compat, *args):
        super().__init__(*args)
        self._compat = compat

    def __missing__(self, key):
        new = self._OLD_NAMES.get(key) if isinstance(key, str) else None
        if new is None or new not in self:
            raise KeyError(key)
        self._compat.note(f"history['{key}'] ran as history['{new}']: Keras 2.3 renamed the key")
        return self[new]


def _longer(values, channels):
    """A list or tuple of more numbers than ``channels``."""
    return isinstance(values, (list, tuple)) and len(values) > channels


def _is_cuda(torch, value):
    """A device argument that names a CUDA device: "cuda", "cuda:0", torch.device("cuda")."""
    if isinstance(value, torch.device):
        return value.type == "cuda"
    return isinstance(value, str) and value.split(":", 1)[0].strip().lower() == "cuda"


def _as_frame(pd, piece, frame):
    """What pandas 1's ``append`` made of one appended piece, as something ``pd.concat`` takes."""
    if isinstance(frame, pd.Series) or isinstance(piece, pd.DataFrame):
        return piece
    if isinstance(piece, dict):
        return pd.DataFrame([piece])
    if isinstance(piece, (list, tuple)):
        return pd.DataFrame(list(piece))
    if isinstance(piece, pd.Series):
        return piece.to_frame().T
    return piece


class _Alias(types.ModuleType):
    """A removed module, served from the module that holds its names today; notes each name used."""

    def __init__(self, name, target, compat, note):
        super().__init__(name)
        self.__dict__["_grader_target"] = (target, compat, note)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        target, compat, note = self.__dict__["_grader_target"]
        value = getattr(target, name)
        compat.note(note.format(name=name))
        return value
