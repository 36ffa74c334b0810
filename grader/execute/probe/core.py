"""The probe itself: the facts it keeps, the recorders it holds, and the two entry points the
runner calls in the kernel, ``install`` before the first cell and ``audit_report`` after the last.

Kernel-side code (see ``common.py``); the whole design is in the package's docstring."""

import functools
import json
import os
import sys
import time
import types

from grader.execute.probe.budget import _KerasBudget
from grader.execute.probe.common import (
    FACTS_MIME,
    MAX_EVALUATIONS,
    MAX_FITS,
    MAX_MODELS,
    MAX_PAYLOAD,
    MAX_TAMPERING,
    MAX_WARNINGS,
    TAMPERED,
    _numpy,
    _text,
)
from grader.execute.probe.compat import _Compat
from grader.execute.probe.datasets import _Datasets
from grader.execute.probe.files import _Files
from grader.execute.probe.integrity import _Integrity, _PostImportFinder
from grader.execute.probe.keras import _KerasRecorder, _save_keras_models
from grader.execute.probe.outputs import _guard_outputs
from grader.execute.probe.torch import _hide_triton, _TorchRecorder
from grader.execute.probe.torch_save import _save_torch_models

CHECKPOINT_EVERY = 1.0  # seconds between two checkpoint writes during training


def install(config):
    """Start recording. ``config``: nonce, attribute (where the probe object is stored on ``sys``),
    datasets ({"mnist": {"path", "source"}, "files": {name: staged path}}), checkpoint (a file path or None), budget (None, or
    the fast budget's caps: max_epochs, max_train_samples, max_eval_samples, max_torch_batches),
    stream_chunk (characters) and rich_size (bytes): the output guards (None: no guard)."""
    probe = _Probe(config)
    setattr(sys, config["attribute"], probe)
    probe.integrity.finder = _PostImportFinder(probe)
    sys.meta_path.insert(0, probe.integrity.finder)
    for name in list(probe.hooks):
        if name in sys.modules:  # already imported before the probe ran
            probe.hooks.pop(name)(sys.modules[name])
    probe.safely(_guard_outputs, config.get("stream_chunk"), config.get("rich_size"))
    probe.safely(_hide_triton)
    probe.safely(probe.files.install)
    return probe


def audit_report(attribute, nonce, models_dir=None):
    """The runner's last request, run from a fresh copy of this file: checks the installed probe
    against this copy's code and its recorders, saves the trained Keras and PyTorch models into ``models_dir``
    for the clean verifier (``verify.py``), then publishes its facts with this copy's code (so a
    replaced ``payload`` never runs)."""
    from IPython.core.display_functions import publish_display_data  # the one _hooked_channel checks

    probe = sys.__dict__.get(attribute)
    problems = _audit(probe)
    hooked = _hooked_channel()
    if hooked:  # json itself may rewrite what it is given: the report is written without it
        text = _plain_report(nonce, [f"{TAMPERED}: {p}" for p in problems + hooked])
    elif probe is None or type(probe).__name__ != "_Probe":
        text = json.dumps({"schema_version": 1, "nonce": nonce, "warnings": [f"{TAMPERED}: {p}" for p in problems]})
    else:
        try:
            for problem in problems + _Integrity.verify(probe.integrity):
                _Integrity.tamper(probe.integrity, problem)
            _Probe.safely(probe, _TorchRecorder._torch_unstepped_are_evaluations, probe.torch)
            _Probe.safely(probe, _TorchRecorder.close_fits, probe.torch)
            _Probe.safely(probe, _TorchRecorder.close_models, probe.torch)
            _Probe.safely(probe, _KerasRecorder.close_models, probe.keras)
            if models_dir:
                _Probe.safely(probe, _save_keras_models, probe, models_dir)
                _Probe.safely(probe, _save_torch_models, probe, models_dir)
            text = _Probe.payload(probe)
        except Exception as exc:
            warnings = [f"{TAMPERED}: {p}" for p in problems] + [f"probe: report failed: {exc!r}"[:500]]
            text = json.dumps({"schema_version": 1, "nonce": nonce, "warnings": warnings})
    publish_display_data({FACTS_MIME: text})


_CHANNEL = (
    ("json", ("dumps",)),
    ("json.encoder", ("JSONEncoder.encode", "JSONEncoder.iterencode")),
    ("IPython.core.display_functions", ("publish_display_data",)),
)


def _hooked_channel():
    """The functions the facts leave by (``json.dumps``, IPython's ``publish_display_data``),
    each compared with a fresh compile of its module's file: a replaced one is tampering."""
    import importlib.util

    problems = []
    for module_name, names in _CHANNEL:
        module = sys.modules.get(module_name)
        spec = importlib.util.find_spec(module_name)
        if module is None or spec is None or not spec.origin:
            continue
        with open(spec.origin, encoding="utf-8") as stream:
            fresh = compile(stream.read(), spec.origin, "exec")
        for name in names:
            live = module
            for part in name.split("."):
                live = getattr(live, part, None)
            expected = _code_named(fresh, name.split("."))
            code = getattr(live, "__code__", None)
            if expected is not None and (
                code is None or code.co_code != expected.co_code or code.co_filename != spec.origin
            ):
                problems.append(f"{module_name}.{name}, which the facts leave by, was replaced")
    return problems


def _plain_report(nonce, warnings):
    """A facts report with only the nonce and ``warnings``, as JSON written by hand (str methods only)."""
    escapes = {'"': '\\"', "\\": "\\\\"}

    def string(text):
        return '"' + "".join(escapes.get(c, c if " " <= c else "\\u%04x" % ord(c)) for c in str(text)) + '"'

    return (
        '{"schema_version": 1, "nonce": ' + string(nonce) + ', "warnings": [' + ", ".join(map(string, warnings)) + "]}"
    )


def _code_named(code, path):
    """The code object at ``path`` (["JSONEncoder", "encode"]) among a module code's constants."""
    for const in code.co_consts:
        if isinstance(const, types.CodeType) and const.co_name == path[0]:
            return const if len(path) == 1 else _code_named(const, path[1:])
    return None


def _audit(probe):
    """How the installed probe's code differs from this copy's: each method of the probe and of
    each recorder it holds, each function and class of the probe's code."""
    if probe is None:
        return ["the probe was removed from sys"]
    installed = type(probe)
    if installed.__name__ != "_Probe":
        return ["the probe was replaced by another object"]
    problems = _audit_methods(probe, _Probe, "the probe")
    for attribute, fresh_class in _recorder_classes().items():
        recorder = vars(probe).get(attribute)
        if type(recorder).__name__ != fresh_class.__name__:
            problems.append(f"the probe's {attribute} recorder was replaced by another object")
        else:
            problems += _audit_methods(recorder, fresh_class, f"the probe's {attribute} recorder")
    intact = [
        method for name, method in vars(installed).items()
        if isinstance(vars(_Probe).get(name), types.FunctionType) and getattr(method, "__code__", None) == vars(_Probe)[name].__code__
    ]  # fmt: skip
    module = getattr(intact[0], "__globals__", None) if intact else None
    if not isinstance(module, dict):
        return problems
    for name, fresh in list(globals().items()):
        if getattr(fresh, "__module__", None) != __name__:
            continue
        current = module.get(name)
        if isinstance(fresh, types.FunctionType):
            if getattr(current, "__code__", None) != fresh.__code__:
                problems.append(f"the probe's function {name} was replaced")
        elif isinstance(fresh, type) and fresh is not _Probe:
            for attribute, method in vars(fresh).items():
                if isinstance(method, types.FunctionType):
                    found = getattr(current, "__dict__", {}).get(attribute)
                    if getattr(found, "__code__", None) != method.__code__:
                        problems.append(f"the probe's {name}.{attribute} was replaced")
    return problems[:MAX_TAMPERING]


def _audit_methods(obj, fresh_class, what):
    """Each method of ``obj``'s class whose code is not ``fresh_class``'s, and each function set on
    ``obj`` itself (the probe's own attributes are data and recorders, never functions)."""
    problems = []
    for name, fresh in vars(fresh_class).items():
        if isinstance(fresh, types.FunctionType):
            if getattr(type(obj).__dict__.get(name), "__code__", None) != fresh.__code__:
                problems.append(f"{what}'s method {name} was replaced")
    for name, value in list(vars(obj).items()):
        if isinstance(value, (types.FunctionType, types.MethodType, types.BuiltinFunctionType, functools.partial)):
            problems.append(f"{what}'s {name} was overridden on {what}")
    return problems


def _recorder_classes():
    """The recorders a probe holds, by attribute: the audit checks each one's class and methods."""
    return {
        "integrity": _Integrity, "datasets": _Datasets, "keras_budget": _KerasBudget,
        "keras": _KerasRecorder, "torch": _TorchRecorder, "compat": _Compat, "files": _Files,
    }  # fmt: skip


class _Probe:
    """The facts of one run and the recorders that gather them; one object on ``sys``."""

    def __init__(self, config):
        self.nonce = config["nonce"]
        self.attribute = config.get("attribute")
        self.checkpoint_path = config.get("checkpoint")
        budget = config.get("budget")
        self.budget = {key: int(value) for key, value in budget.items()} if budget else None
        self.cell = None  # set by the runner before each notebook cell
        self.models = {}  # id(model object) -> model record
        self.objects = {}  # id(model object) -> the object, kept alive so ids stay unique
        self.fits, self.evaluations, self.warnings = [], [], []
        self.trained_rows = {}  # model id -> sorted unique row hashes it was trained on
        self.validated_rows = {}  # model id -> ... validated on
        self.pending_rows = {}  # model id -> [hash arrays] not merged yet (PyTorch batches)
        self.last_checkpoint = 0.0
        self.dirty = False  # facts changed since the last checkpoint
        # The recorders, each one concern (``_recorder_classes``, which the audit checks).
        self.integrity = _Integrity(self)
        self.datasets = _Datasets(self, config.get("datasets") or {})
        self.keras_budget = _KerasBudget(self, self.budget)
        self.keras = _KerasRecorder(self)
        self.torch = _TorchRecorder(self)
        self.compat = _Compat(self)
        self.files = _Files(self, (config.get("datasets") or {}).get("files"))
        self.hooks = {}  # module -> patch applied once the notebook imports it
        for recorder in (self.keras, self.torch, self.datasets, self.compat):
            for module, patch in recorder.hooks().items():
                self.hooks[module] = self._safe_patch(patch, self.hooks.get(module))

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

    def _safe_patch(self, patch, before=None):
        """``patch`` applied safely, after ``before`` (another recorder's patch of the same module)."""

        def apply(module):
            if before is not None:
                before(module)
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

    def fit_index(self, fit):
        """Where a fit record is among the report's fits, or None: an evaluation names the training run
        it measured, so that runs of one model (a loop over optimizers) each keep their own result."""
        return next((index for index, known in enumerate(self.fits) if known is fit), None)

    def latest_fit_index(self, model_id):
        return next((i for i in range(len(self.fits) - 1, -1, -1) if self.fits[i]["model"] == model_id), None)

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
        """The runner's note that notebook cell ``index`` runs next; saves what the last cell did
        and checks that the recorders are still in place."""
        after = f"after cell {self.cell}" if self.cell is not None else "before the first cell"
        for problem in self.safely(self.integrity.verify) or []:
            self.integrity.tamper(problem, after)
        self.safely(self.torch._torch_unstepped_are_evaluations)
        self.safely(self.torch.close_fits)
        self.cell = index
        self.torch.torch_pass = None
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
        self.torch.finish_fits()
        fits = self.fits[:MAX_FITS]
        if not histories:
            fits = [{**fit, "history": {}} for fit in fits]
        return {
            "schema_version": 1,
            "nonce": self.nonce,
            "models": list(self.models.values()),
            "fits": fits,
            "evaluations": self.evaluations[:MAX_EVALUATIONS],
            "datasets": list(self.datasets.facts.values()),
            "budget": {key: float(value) for key, value in (self.budget or {}).items()},
            "warnings": list(self.integrity.tampering) + list(self.warnings),
            "translations": list(self.compat.translations),
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
