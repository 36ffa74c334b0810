"""PyTorch recording and budget: root modules, their training forwards and optimizer steps, and
their eval forwards, through torch's global hooks; under the fast budget every ``DataLoader``
iterator stops after ``max_torch_batches`` batches (``torch_loaders.py``).

A forward in train mode counts as training only if an optimizer step follows it; one that no
step followed by the next cell boundary is an evaluation. A fit (one model's steps in one cell)
holds whether its weights changed: their hash before its first step against the hash at the end of
its cell; a model whose weights are back to those before its first fit when the report is made
learned nothing from any. An evaluation loop computes its metric in the student's own code; the
probe scores the same batches itself (the share of the outputs' largest class that equals the
labels the loader gave with the inputs), so that the accuracy a notebook prints can be matched to
one the probe recorded. Kernel-side code (see ``common.py``)."""

import hashlib
import os
import sys

from grader.execute.probe.common import (
    _DROPOUT_CLASSES,
    MAX_EVALUATIONS,
    MAX_FITS,
    MAX_LAYERS,
    SAMPLE_ROWS,
    _dtype_name,
    _float,
    _int,
    _numpy,
    _optimizer_fact,
    _text,
)  # fmt: skip
from grader.execute.probe.rows import _Data, _fingerprint, row_hashes
from grader.execute.probe.torch_loaders import _remember_loader_dataset, _watch_loaders


class _TorchRecorder:
    """Records the PyTorch models a notebook trains and evaluates."""

    def __init__(self, probe):
        self.probe = probe
        self.torch_pass = None  # the DataLoader pass (fast budget) that yielded the last batch
        self.torch_labels = None  # the class labels of the last batch a DataLoader gave, until a model takes it
        self.torch_source = None  # the dataset (its id) that batch came from, until a model takes it
        self.torch_scoring = None  # (evaluation state, labels) of the eval forward in progress
        self.torch_passes = 0
        self.torch_dataset_rows = set()  # (model id, id(dataset)) whose rows were all remembered
        self.torch_served_rows = {}  # model id -> {(dataset name, split): [positions it trained on]}
        self.torch_fits, self.torch_evaluations, self.torch_param_owner = {}, {}, {}
        self.torch_unstepped = {}  # model id -> train-mode batches no optimizer step has followed yet
        self.torch_modules = {}  # model id -> the module
        self.torch_weights_before = {}  # fit key -> hash of the model's weights before that fit's first step
        self.torch_stepped = {}  # model id -> (its latest fit's key, its weights' versions after that step)
        self.torch_fresh = {}  # fit key -> whether the weights were not those the model's previous fit left
        self.torch_untrained = {}  # model id -> hash of its weights before its first fit
        self.torch_steps = {}  # model id -> optimizer steps taken so far

    def hooks(self):
        """Module -> patch applied once the notebook imports it."""
        return {"torch": self._patch_torch}

    def finish_fits(self):
        """Brings every PyTorch fit record up to date (before a report)."""
        for key in list(self.torch_fits):
            self.probe.safely(self._torch_finish_fit, key)

    def _patch_torch(self, torch):
        from torch.nn.modules.module import (
            register_module_forward_hook,
            register_module_forward_pre_hook,
        )
        from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

        recorder, probe = self, self.probe
        active = [0]  # module forwards in progress: only the outermost one is a model call

        def before(module, inputs):
            if active[0] == 0:
                probe.safely(recorder._torch_forward, torch, module, inputs)
            active[0] += 1

        def after(module, inputs, output):
            active[0] = max(0, active[0] - 1)
            if active[0] == 0 and recorder.torch_scoring is not None:
                probe.safely(_torch_score, recorder, torch, output)

        def stepping(optimizer, args, kwargs):
            probe.safely(recorder._torch_step_begins, optimizer)

        def stepped(optimizer, args, kwargs):
            probe.safely(recorder._torch_step, optimizer)

        register_module_forward_pre_hook(before)
        register_module_forward_hook(after, always_call=True)
        register_optimizer_step_pre_hook(stepping)
        register_optimizer_step_post_hook(stepped)
        module_hooks, optimizer_hooks = sys.modules["torch.nn.modules.module"], sys.modules["torch.optim.optimizer"]
        self.probe.integrity.hook_sets += [(module_hooks, "_global_forward_pre_hooks", before),
                           (module_hooks, "_global_forward_hooks", after),
                           (optimizer_hooks, "_global_optimizer_pre_hooks", stepping),
                           (optimizer_hooks, "_global_optimizer_post_hooks", stepped)]  # fmt: skip
        _watch_loaders(self, torch)

    def _torch_forward(self, torch, module, inputs):
        if next(module.parameters(), None) is None or isinstance(module, torch.nn.modules.loss._Loss):
            return  # losses, activations, transforms: not models
        first = next((value for value in inputs if isinstance(value, torch.Tensor)), None)
        if first is None:
            return
        record = self.probe.models.get(id(module))
        if record is None:
            record = self.probe._model(module, "torch", _describe_torch)
            if record is None:
                return
            self.torch_modules[record["id"]] = module
            for parameter in module.parameters():
                self.torch_param_owner.setdefault(id(parameter), record["id"])
        rows = first.detach().cpu().numpy()
        rows = rows.reshape(1) if rows.ndim == 0 else rows
        batch = {"count": int(rows.shape[0]), "shape": [int(size) for size in rows.shape][:10],
                 "dtype": _dtype_name(rows.dtype), "cell": self.probe.cell, "location": _caller_outside_torch(),
                 "pass": self.torch_pass}  # fmt: skip
        batch["source"], self.torch_source = self.torch_source, None
        if module.training and torch.is_grad_enabled():
            # Training only if an optimizer step follows: a forward in train mode that is never
            # stepped (accuracy computed without model.eval()) is an evaluation.
            batch["hashes"] = row_hashes(rows)
            if not self.torch_unstepped.get(record["id"]):  # where a fit's rows come from: its first batch says
                batch["rows"] = rows[:SAMPLE_ROWS]
            self.torch_unstepped.setdefault(record["id"], []).append(batch)
            self.torch_labels = None  # taken: a later forward of other inputs must not score against them
            return
        batch["hashes"] = row_hashes(rows[:SAMPLE_ROWS])
        labels, self.torch_labels = self.torch_labels, None
        if labels is not None and int(labels.shape[0]) == batch["count"]:
            batch["labels"] = labels
        self._torch_evaluated(record["id"], batch)

    def _torch_evaluated(self, model_id, batch):
        """Adds an eval batch to the record of this model called from this line of this cell on this
        DataLoader's dataset: the batches of one evaluation loop are one record, evaluations on two
        lines, or one line's ``evaluate(model, train_loader)`` and ``evaluate(model, test_loader)``,
        are two. A loop run again after the model trained on (an evaluation every epoch) starts its
        record afresh, so that the record measures the weights as they are now, not an average over
        the epochs."""
        run = self.torch_stepped.get(model_id, (None,))[0]
        key = (model_id, batch["cell"], batch["location"], batch.get("source"), run)
        state = self.torch_evaluations.get(key)
        steps = self.torch_steps.get(model_id, 0)
        if state is not None and state["steps"] != steps:
            state.update(steps=steps, correct=0, labelled=0, unlabelled=False)
            state["record"]["samples"] = 0
            state["record"]["metrics"].pop("accuracy", None)
        if state is None:
            if len(self.probe.evaluations) >= MAX_EVALUATIONS:
                return
            sampled = batch["hashes"][:SAMPLE_ROWS] if batch["hashes"] is not None else None
            record = {"model": model_id, "cell": batch["cell"], "kind": "eval_forward", "samples": 0,
                      "after_fit": self.probe.fit_index(self.torch_fits.get(run, {}).get("record")),
                      "data": {"id": _fingerprint(batch["shape"][1:], sampled), "shape": batch["shape"],
                               "dtype": batch["dtype"], "kind": "tensor"},
                      "overlap_with_training": None, "overlap_with_validation": None, "metrics": {}}  # fmt: skip
            state = {"record": record, "checked": 0, "hits": 0, "correct": 0, "labelled": 0, "unlabelled": False,
                     "steps": steps}  # fmt: skip
            self.torch_evaluations[key] = state
            self.probe.evaluations.append(record)
        record = state["record"]
        record["samples"] += batch["count"]
        if "labels" in batch:
            self.torch_scoring = (state, batch["labels"])
        else:
            state["unlabelled"] = True
            record["metrics"].pop("accuracy", None)
        if batch.get("pass") is not None and batch["pass"].budgeted:
            record["budgeted"] = True
            if "dataset_samples" not in record:
                record["dataset_samples"] = self.probe.safely(len, batch["pass"].dataset)
        room = SAMPLE_ROWS - state["checked"]
        known = self.probe._merged_rows(self.probe.trained_rows, model_id)
        if room > 0 and batch["hashes"] is not None and known is not None:
            sampled = batch["hashes"][:room]
            state["checked"] += len(sampled)
            state["hits"] += int(_numpy().isin(sampled, known).sum())
            record["overlap_with_training"] = state["hits"] / state["checked"]
        if "served" not in state:
            state["served"] = self.probe.safely(_served_overlap, self, model_id, batch.get("pass"))
        if state["served"] is not None:
            record["overlap_with_training"] = max(state["served"], record["overlap_with_training"] or 0.0)
        self.probe.safely(self.probe.checkpoint)

    def _batch_origin(self, batch):
        """The served dataset a training batch is from: its DataLoader's, when that serves one (or a
        ``Subset`` of one), else the one whose training rows its rows are (``_Datasets._provenance``)."""
        torch_pass = batch.get("pass")
        served = self.probe.datasets.torch_rows(torch_pass.dataset) if torch_pass is not None else None
        if served is not None:
            return served[0][0]
        return self.probe.datasets._provenance(_Data(batch["rows"]))[1] if "rows" in batch else None

    def _stepped_model(self, optimizer):
        """The model an optimizer step trains (the owner of its first parameter a forward showed),
        and that parameter's group; (None, None) when it trains none the probe saw."""
        for group in optimizer.param_groups:
            for parameter in group.get("params", []):
                model_id = self.torch_param_owner.get(id(parameter))
                if model_id is not None:
                    return model_id, group
        return None, None

    def _torch_step_begins(self, optimizer):
        """Before the first step of a fit: the hash of the model's weights, and whether they are those
        its previous fit left (trained on) or were set anew (``reset_parameters``, a saved state)."""
        model_id, _ = self._stepped_model(optimizer)
        key = _fit_key(model_id, self.probe.cell, optimizer)
        if model_id is not None and key not in self.torch_weights_before:
            module = self.torch_modules.get(model_id)
            self.torch_weights_before[key] = self.probe.safely(_weights_hash, module)
            self.torch_untrained.setdefault(model_id, self.torch_weights_before[key])
            previous = self.torch_stepped.get(model_id)
            if previous is not None and previous[0] != key:
                self.torch_fresh[key] = self.probe.safely(_weights_versions, module) != previous[1]

    def _torch_step(self, optimizer):
        model_id, group = self._stepped_model(optimizer)
        if model_id is None:
            return
        self.torch_steps[model_id] = self.torch_steps.get(model_id, 0) + 1
        key = _fit_key(model_id, self.probe.cell, optimizer)
        versions = self.probe.safely(_weights_versions, self.torch_modules.get(model_id))
        self.torch_stepped[model_id] = (key, versions)
        fit = self._torch_fit(key)
        if fit is not None:
            if fit["record"].get("optimizer") is None:
                settings = group if isinstance(group, dict) else {}
                fit["record"]["optimizer"] = self.probe.safely(
                    _optimizer_fact, optimizer, settings.get("lr"), settings.get("momentum")
                )
            fit["steps"] += 1
            for batch in self.torch_unstepped.pop(model_id, []):
                if fit["seen"] == 0:
                    fit["row_shape"], fit["dtype"] = batch["shape"][1:], batch["dtype"]
                    fit["record"]["dataset"] = self.probe.safely(self._batch_origin, batch)
                fit["seen"] += batch["count"]
                torch_pass = batch.get("pass")
                if torch_pass is None:
                    fit["loose"] += 1
                else:
                    fit["passes"][torch_pass.serial] = torch_pass
                    if torch_pass.budgeted:
                        self.probe.safely(_remember_loader_dataset, self, model_id, torch_pass)
                if batch["hashes"] is not None:
                    fit["hashes"].append(batch["hashes"])
                    self.probe.pending_rows.setdefault(model_id, []).append(batch["hashes"])
        self.probe.safely(self.probe.checkpoint)

    def close_fits(self):
        """At a cell boundary and before the report: each fit of the cell that ended says whether
        its weights changed. Measured once, at the end of the cell rather than after every step (a
        hash reads every weight), so weights put back later in the cell count as unchanged."""
        ended, self.torch_weights_before = self.torch_weights_before, {}
        for key, before in ended.items():
            fit = self.torch_fits.get(key)
            if fit is None or before is None:
                continue
            after = self.probe.safely(_weights_hash, self.torch_modules.get(key[0]))
            if after is not None:
                fit["record"]["weights_changed"] = before != after

    def close_models(self):
        """Before the report: a model whose weights are those it had before its first fit (put back
        in a later cell) learned nothing from any of its fits."""
        for model_id, untrained in self.torch_untrained.items():
            if untrained is None or self.probe.safely(_weights_hash, self.torch_modules.get(model_id)) != untrained:
                continue
            for (owner, *_), fit in self.torch_fits.items():
                if owner == model_id:
                    fit["record"]["weights_changed"] = False

    def _torch_unstepped_are_evaluations(self):
        """Train-mode forwards that no optimizer step followed, seen at a cell boundary."""
        unstepped, self.torch_unstepped = self.torch_unstepped, {}
        for model_id, batches in unstepped.items():
            for batch in batches:
                self._torch_evaluated(model_id, batch)

    def _torch_fit(self, key):
        """The record of one training run: a model stepped in one cell by one kind of optimizer (a loop
        over optimizers that trains one model is as many runs as optimizers)."""
        fit = self.torch_fits.get(key)
        if fit is None:
            if len(self.probe.fits) >= MAX_FITS:
                return None
            record = {"model": key[0], "cell": self.probe.cell, "epochs_requested": None, "epochs_run": 0,
                      "samples": 0, "steps": 0, "data": None, "validation": "none",
                      "validation_data": None, "history": {}}  # fmt: skip
            if key in self.torch_fresh:
                record["fresh_start"] = self.torch_fresh.pop(key)
            self.probe.fits.append(record)
            fit = {"record": record, "seen": 0, "hashes": [], "steps": 0, "passes": {}, "loose": 0}
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
        if fit["passes"] and not fit["loose"]:
            # Fast budget: every batch came from a (capped) DataLoader pass; an epoch is a pass.
            record["epochs_run"] = len(fit["passes"])
            record["budgeted"] = any(torch_pass.budgeted for torch_pass in fit["passes"].values())


def _describe_torch(module):
    """A model's leaf layers (class, module, units, dropout rate) and its parameter count."""
    layers = []
    for sub in module.modules():
        if next(iter(sub.children()), None) is not None:
            continue  # containers: their leaves are listed
        cls = type(sub).__name__
        rate = getattr(sub, "p", None) if cls.endswith(_DROPOUT_CLASSES) else None
        units = getattr(sub, "out_features", None) or getattr(sub, "hidden_size", None)
        rate = _float(rate) if rate is not None else None
        layers.append(
            {"cls": _text(cls, 200), "module": _text(type(sub).__module__, 300), "units": _int(units), "rate": rate}
        )
        if len(layers) >= MAX_LAYERS:
            break
    params = sum(int(p.numel()) for p in module.parameters())
    return {"name": "", "layers": layers, "params": params}


def _correct_predictions(torch, output, labels):
    """How many rows of a per-class ``output`` have their largest score at their label, or None."""
    if not (isinstance(output, torch.Tensor) and output.ndim == 2 and output.shape[1] > 1):
        return None
    if output.shape[0] != labels.shape[0]:
        return None
    return int((output.detach().argmax(1) == labels.to(output.device)).sum())


def _hide_triton():
    """Makes ``import triton`` fail on a machine without an NVIDIA GPU. PyTorch's CUDA build brings
    triton, which compiles GPU kernels: here it has nothing to do, and once TensorFlow is loaded,
    loading it (``import torchvision`` does) crashes the kernel, their LLVMs clashing. torch runs
    without it (``torch.compile`` then compiles C++)."""
    import importlib.util

    if "triton" not in sys.modules and not os.path.exists("/dev/nvidiactl"):
        if importlib.util.find_spec("triton") is not None:
            sys.modules["triton"] = None


def _torch_score(recorder, torch, output):
    """The accuracy of an evaluation so far, when every one of its batches came with class labels
    and each output gives a score per class: the metric the student's loop computes, if it
    computes accuracy."""
    (state, labels), recorder.torch_scoring = recorder.torch_scoring, None
    correct = None if state["unlabelled"] else _correct_predictions(torch, output, labels)
    if correct is None:
        state["unlabelled"] = True
        state["record"]["metrics"].pop("accuracy", None)
        return
    state["correct"] += correct
    state["labelled"] += int(labels.shape[0])
    state["record"]["metrics"]["accuracy"] = state["correct"] / state["labelled"]


def _served_overlap(recorder, model_id, torch_pass):
    """Fast budget, a served torchvision split (or a Subset of one) evaluated: the share of its rows
    among those of the served splits the model trained on, as a whole pass over each would have
    given (its few batches' rows alone would make the training split look held-out). None when
    either side is not a served split."""
    trained = recorder.torch_served_rows.get(model_id)
    evaluated = recorder.probe.datasets.torch_rows(torch_pass.dataset) if torch_pass is not None else None
    if not trained or evaluated is None or not len(evaluated[1]):
        return None
    split, positions = evaluated
    if split not in trained:
        return 0.0
    np = _numpy()
    return float(np.isin(positions, np.concatenate(trained[split])).mean())


def _fit_key(model_id, cell, optimizer):
    """A training run: one model stepped in one cell by one kind of optimizer, its class and the settings
    it was made with (one made again every epoch, or whose rate a scheduler lowers, is the same run)."""
    made_with = getattr(optimizer, "defaults", None)
    made_with = made_with if isinstance(made_with, dict) else {}
    return (model_id, cell, type(optimizer).__name__, repr(made_with.get("lr")), repr(made_with.get("momentum")))


def _weights_versions(module):
    """Each parameter's version counter, which torch raises at every in-place change: read after every
    optimizer step (no copy of a weight), they tell the weights a step left from weights set anew since
    (``reset_parameters``, ``load_state_dict``: in-place too); parameters replaced show other ids."""
    import torch

    return tuple((id(parameter), parameter._version) for parameter in torch.nn.Module.parameters(module))


def _weights_hash(module):
    """A hash of a module's parameters, listed by torch's own ``Module.parameters`` (a class of the
    notebook's may override its own)."""
    import torch

    digest = hashlib.sha256()
    for parameter in torch.nn.Module.parameters(module):
        tensor = parameter.detach().cpu()
        if tensor.dtype == torch.bfloat16:  # a type numpy does not have
            tensor = tensor.float()
        digest.update(_numpy().ascontiguousarray(tensor.numpy()))
    return digest.hexdigest()


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
