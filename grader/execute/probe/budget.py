"""The fast budget on Keras (the runner's ``mode="fast"``): the one exception to "the caller's
arguments".

``fit`` gets at most ``max_epochs`` epochs and ``max_train_samples`` training rows,
``evaluate``/``predict`` at most ``max_eval_samples`` rows; datasets and generators get fewer
steps. The student's code sees the same structures (a History padded to the epochs asked for,
predictions of the full length), and every fact that decides a verdict (row overlaps, dataset
splits) is measured on the student's original arrays before the cut, so a fast run's held-out
verdicts are a full run's. Kernel-side code (see ``common.py``)."""

import math

from grader.execute.probe.common import _float, _int, _numpy


class _KerasBudget:
    """Cuts a Keras call's arguments to the caps, and pads what it returns back to full size."""

    def __init__(self, probe, caps):
        self.probe = probe
        self.caps = caps  # max_epochs, max_train_samples, max_eval_samples, max_torch_batches

    def _keras_budget(self, method, arguments):
        """Cuts the arguments of a student's fit/evaluate/predict in place to the fast budget;
        returns what was cut ({} if nothing)."""
        caps, cut = self.caps, {}
        x = arguments.get("x")
        rows = _rows_of(x)
        if method == "fit":
            self._budget_fit(arguments, rows, cut)
        elif rows is not None:
            if rows > caps["max_eval_samples"]:
                keep = caps["max_eval_samples"]
                for name in ("x", "y", "sample_weight"):
                    if arguments.get(name) is not None:
                        arguments[name] = _head(arguments[name], 0, keep)
                cut["samples"] = (rows, keep)
        elif method == "evaluate" and x is not None:
            # A dataset or generator: fewer steps. (predict keeps them: the length of its output
            # is something the student's code may rely on, and only arrays can be padded back.)
            self._budget_steps(arguments, "x", "steps", caps["max_eval_samples"], cut)
        if cut:
            cut["cell"] = self.probe.cell
        return cut

    def _budget_fit(self, arguments, rows, cut):
        caps = self.caps
        epochs, initial = _int(arguments.get("epochs", 1)), _int(arguments.get("initial_epoch")) or 0
        if epochs is not None and epochs - initial > caps["max_epochs"]:
            cut["epochs"] = (epochs - initial, caps["max_epochs"], initial)
            arguments["epochs"] = initial + caps["max_epochs"]
            frequency = arguments.get("validation_freq", 1)
            if frequency != 1 and _validation_epochs(frequency, initial, epochs):
                cut["validation_freq"] = frequency  # so that the History gets val_ values to pad
                arguments["validation_freq"] = 1
        names = ("x", "y", "sample_weight")
        split = _float(arguments.get("validation_split")) or 0.0
        if rows is not None and split > 0 and arguments.get("validation_data") is None:
            # As Keras would: the last rows are the validation part; then each part is cut.
            split_at = int(math.floor(rows * (1.0 - split)))
            if 0 < split_at < rows:  # else Keras raises its own error
                keep = min(split_at, caps["max_train_samples"])
                keep_validation = min(rows - split_at, caps["max_eval_samples"])
                if keep < split_at or keep_validation < rows - split_at:
                    originals = [arguments.get(name) for name in names]
                    validation = [
                        None if value is None else _head(value, split_at, split_at + keep_validation)
                        for value in originals
                    ]
                    for name, value in zip(names, originals):
                        if value is not None:
                            arguments[name] = _head(value, 0, keep)
                    arguments["validation_data"] = tuple(validation if validation[2] is not None else validation[:2])
                    arguments["validation_split"] = 0.0
                    cut["samples"] = (split_at, keep)
                    cut["validation_samples"] = (rows - split_at, keep_validation)
        elif rows is not None:
            if rows > caps["max_train_samples"]:
                keep = caps["max_train_samples"]
                for name in names:
                    if arguments.get(name) is not None:
                        arguments[name] = _head(arguments[name], 0, keep)
                cut["samples"] = (rows, keep)
        elif arguments.get("x") is not None:
            self._budget_steps(arguments, "x", "steps_per_epoch", caps["max_train_samples"], cut)
        validation = arguments.get("validation_data")
        if validation is None or "validation_samples" in cut:
            return
        if isinstance(validation, (list, tuple)) and validation:
            count = _rows_of(validation[0])
            if count is not None and count > caps["max_eval_samples"]:
                keep = caps["max_eval_samples"]
                arguments["validation_data"] = tuple(
                    None if value is None else _head(value, 0, keep) for value in validation
                )
                cut["validation_samples"] = (count, keep)
        else:
            self._budget_steps(arguments, "validation_data", "validation_steps", caps["max_eval_samples"], cut)

    def _budget_steps(self, arguments, name, steps_name, samples, cut):
        """A dataset, generator or loader: at most about ``samples`` rows per epoch, in batches."""
        data = arguments[name]
        size = _batch_size_of(data) or 32
        steps = max(1, math.ceil(samples / size))
        if _is_torch_loader(data):
            steps = min(steps, self.caps["max_torch_batches"])
        given = _int(arguments.get(steps_name))
        if given is not None:
            if given > steps:
                arguments[steps_name] = steps
                cut["steps"] = (given, steps)
            return
        if hasattr(data, "take") and hasattr(data, "element_spec"):  # tf.data: a shorter dataset
            known = _int(data.cardinality())
            if known is None or known < 0 or known > steps:  # -1 infinite, -2 unknown
                arguments[name] = data.take(steps)
                cut["steps"] = (known if known and known > 0 else None, steps)
            return
        try:
            known = len(data)
        except Exception:
            known = None
        if known is None or known > steps:
            arguments[steps_name] = steps
            cut["steps"] = (known, steps)

    def _keras_budget_end(self, method, cut, result):
        """What the student gets back: predictions of the full length, a History of the epochs
        asked for. Returns the (possibly new) result, or None to keep ``result``."""
        where = f"cell {cut['cell']}" if cut.get("cell") is not None else "a cell"
        if method == "predict" and "samples" in cut:
            rows, kept = cut["samples"]
            self.probe.warn(
                f"fast budget: {where}: predict ran on the first {kept:,} of {rows:,} samples; its output"
                " repeats those rows to keep the full length"
            )
            return _tile_rows(result, rows)
        if method != "fit" or "epochs" not in cut or not isinstance(getattr(result, "history", None), dict):
            return None
        requested, capped, initial = cut["epochs"]
        epochs = getattr(result, "epoch", None)
        if not isinstance(epochs, list) or not epochs or len(epochs) != capped:
            return None  # stopped early (a callback): the student's code must cope with that anyway
        frequency = cut.get("validation_freq", 1)
        for key, series in result.history.items():
            if not isinstance(series, list) or not series:
                continue
            target = requested
            if key.startswith("val_") and frequency != 1:
                target = _validation_epochs(frequency, initial, initial + requested)
            if len(series) < target:
                series.extend([series[-1]] * (target - len(series)))
        epochs.extend(range(epochs[-1] + 1, epochs[-1] + 1 + requested - capped))
        params = getattr(result, "params", None)
        if isinstance(params, dict) and "epochs" in params:
            params["epochs"] = initial + requested
        samples = ""
        if "samples" in cut:
            samples = f" on {cut['samples'][1]:,} of {cut['samples'][0]:,} samples"
        self.probe.warn(
            f"fast budget: {where}: fit ran {capped} of {requested} epochs{samples}; its History was padded"
            f" to {requested} epochs by repeating the last epoch's values"
        )
        return None


def _leaves(value):
    if isinstance(value, dict):
        return [leaf for key in value for leaf in _leaves(value[key])]
    if isinstance(value, (list, tuple)):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def _sliceable(value):
    if value is None:
        return True
    shape = getattr(value, "shape", None)
    if shape is None or isinstance(value, (str, bytes)) or not hasattr(value, "__getitem__"):
        return False
    try:
        return len(shape) >= 1 and _int(shape[0]) is not None
    except TypeError:
        return False


def _rows_of(value):
    """Rows of an array or a (nested list/tuple/dict) structure of arrays; None for anything
    else (datasets, generators, loaders, lists of numbers)."""
    if value is None:
        return None
    leaves = _leaves(value)
    if not leaves or not all(_sliceable(leaf) for leaf in leaves):
        return None
    present = [leaf for leaf in leaves if leaf is not None]
    return _int(present[0].shape[0]) if present else None


def _head(value, start, stop):
    """Rows ``start:stop`` of each array in a structure; the structure's types are kept."""
    if value is None:
        return None
    if isinstance(value, dict):
        return type(value)((key, _head(item, start, stop)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        items = [_head(item, start, stop) for item in value]
        return type(value)(items) if type(value) in (list, tuple) else tuple(items)
    if hasattr(value, "iloc"):  # pandas: by position
        return value.iloc[start:stop]
    return value[start:stop]


def _tile_rows(value, rows):
    """``value``'s arrays repeated along the first axis to ``rows`` rows (the rows kept in order)."""
    if isinstance(value, dict):
        return type(value)((key, _tile_rows(item, rows)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        items = [_tile_rows(item, rows) for item in value]
        return type(value)(items) if type(value) in (list, tuple) else tuple(items)
    shape = getattr(value, "shape", None)
    if shape is None or len(shape) == 0 or not shape[0] or shape[0] >= rows:
        return value
    np = _numpy()
    return np.take(np.asarray(value), np.arange(rows) % int(shape[0]), axis=0)


def _validation_epochs(frequency, initial, epochs):
    """How many of the epochs ``initial..epochs-1`` Keras validates after, for ``validation_freq``."""
    if isinstance(frequency, int):
        return sum(1 for epoch in range(initial, epochs) if (epoch + 1) % max(1, frequency) == 0)
    try:
        return sum(1 for epoch in range(initial, epochs) if epoch + 1 in frequency)
    except TypeError:
        return epochs - initial


def _is_torch_loader(value):
    return any(cls.__name__ == "DataLoader" and cls.__module__.startswith("torch") for cls in type(value).__mro__)


def _batch_size_of(data):
    """The batch size of a loader, a PyDataset or a batched tf.data pipeline, if it says."""
    size = _int(getattr(data, "batch_size", None)) if not hasattr(data, "element_spec") else None
    if size:
        return size
    node = data
    for _ in range(100):  # tf.data: the batch size of the last batching step upstream
        if node is None:
            break
        size = getattr(node, "_batch_size", None)
        if size is not None:
            try:
                return int(size.numpy()) if hasattr(size, "numpy") else int(size)
            except (TypeError, ValueError):
                return None
        node = getattr(node, "_input_dataset", None)
    return None
