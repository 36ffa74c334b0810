"""PyTorch's DataLoader passes, as the torch recorder (``torch.py``) sees them: each pass's batches
give their labels to the evaluation that takes them; under the fast budget a pass stops after
``max_torch_batches`` batches, and the model that trains on its first batches is taken to have
seen the loader's whole dataset. Kernel-side code (see ``common.py``)."""

import functools

from grader.execute.probe.rows import row_hashes


def _watch_loaders(recorder, torch):
    """Each pass over a DataLoader is watched for its labels; under the fast budget it yields at
    most ``max_torch_batches`` batches."""
    loader_class = torch.utils.data.DataLoader
    original = loader_class.__iter__
    limit = recorder.probe.budget["max_torch_batches"] if recorder.probe.budget else None

    def __iter__(loader):
        __tracebackhide__ = True
        inner = original(loader)
        return recorder.probe.safely(_CappedPass, recorder, loader, inner, limit) or inner

    functools.update_wrapper(__iter__, original)
    recorder.probe.integrity.remember(loader_class, "__iter__", __iter__)


class _CappedPass:
    """One pass over a DataLoader: the loader's own iterator, whose batches' labels the recorder sees;
    under the fast budget (``limit``) stopped after that many batches. Anything else is asked of the
    loader's iterator."""

    def __init__(self, recorder, loader, inner, limit):
        self._recorder, self._inner, self._limit, self._drawn = recorder, inner, limit, 0
        try:
            self._total = len(loader)
        except TypeError:  # an IterableDataset without a length
            self._total = None
        self.budgeted = limit is not None and self._total is not None and self._total > limit
        self.dataset = getattr(loader, "dataset", None)
        self.source = id(self.dataset) if self.dataset is not None else id(loader)
        recorder.torch_passes += 1
        self.serial = recorder.torch_passes

    def __iter__(self):
        return self

    def __next__(self):
        __tracebackhide__ = True
        if self._limit is not None and self._drawn >= self._limit:
            if self._total is None and not self.budgeted:
                try:  # was there more? (a loader without a length cannot say otherwise)
                    next(self._inner)
                    self.budgeted = True
                except StopIteration:
                    pass
            self._end()
            raise StopIteration
        try:
            item = next(self._inner)
        except StopIteration:
            self._end()
            raise
        self._drawn += 1
        if self._limit is not None:
            self._recorder.torch_pass = self
        self._recorder.torch_labels = _class_labels(item)
        self._recorder.torch_source = self.source
        return item

    def _end(self):
        if self._recorder.torch_pass is self:
            self._recorder.torch_pass = None

    def __len__(self):
        return len(self._inner) if self._limit is None else min(self._limit, len(self._inner))

    def __getattr__(self, name):
        inner = self.__dict__.get("_inner")
        if inner is None:
            raise AttributeError(name)
        return getattr(inner, name)


def _remember_loader_dataset(recorder, model_id, torch_pass):
    """A fast run trains on the first batches of a loader: the model is taken to have seen the
    loader's whole dataset (as the full run would), when its rows can be read without
    running the dataset's own code (TensorDataset, and Subsets of it)."""
    dataset = torch_pass.dataset
    key = (model_id, id(dataset))
    if dataset is None or key in recorder.torch_dataset_rows:
        return
    recorder.torch_dataset_rows.add(key)
    rows = _dataset_rows(dataset)
    if rows is not None:
        hashes = row_hashes(rows.detach().cpu().numpy() if hasattr(rows, "detach") else rows)
        if hashes is not None:
            recorder.probe.pending_rows.setdefault(model_id, []).append(hashes)
        return
    served = recorder.probe.datasets.torch_rows(dataset)
    if served is not None:
        split, positions = served
        recorder.torch_served_rows.setdefault(model_id, {}).setdefault(split, []).append(positions)


def _class_labels(item):
    """The labels of an ``(inputs, labels)`` batch: a 1-D integer tensor, else None."""
    if not isinstance(item, (tuple, list)) or len(item) < 2:
        return None
    labels = item[1]
    dtype = getattr(labels, "dtype", None)
    if getattr(labels, "ndim", None) != 1 or dtype is None or dtype.is_floating_point or dtype.is_complex:
        return None
    return labels


def _dataset_rows(dataset, depth=0):
    """The first tensor of a TensorDataset (or of the dataset a Subset picks from), else None."""
    tensors = getattr(dataset, "tensors", None)
    if isinstance(tensors, (list, tuple)) and tensors and hasattr(tensors[0], "shape"):
        return tensors[0]
    inner, indices = getattr(dataset, "dataset", None), getattr(dataset, "indices", None)
    if inner is not None and indices is not None and depth < 10:
        rows = _dataset_rows(inner, depth + 1)
        if rows is not None:
            return rows[list(indices)] if not hasattr(indices, "shape") else rows[indices]
    return None
