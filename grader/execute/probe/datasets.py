"""Datasets: ``keras.datasets.mnist.load_data()`` served from the file the runner staged, as a
Dataset fact, and which split of a served dataset an array is.

At ``load_data()`` each split gets a scale-invariant fingerprint (its length and the hashes of
rows at fixed positions, each row divided by its largest absolute value), so ``x_test / 255.``
is still the test split even when the data file repeats its test images inside its training
images. Kernel-side code (see ``common.py``)."""

import functools
import sys

from grader.execute.probe.common import _numpy, _text
from grader.execute.probe.rows import normalised_row_hashes, sample_rows


class _Datasets:
    """Serves the staged datasets and fingerprints their splits."""

    def __init__(self, probe, served):
        self.probe = probe
        self.served = served  # name -> {"path", "source"}: the files the runner staged
        self.split_prints = {}  # dataset name -> {split: (rows, sampled positions, their hashes)}
        self.facts = {}  # dataset name -> its Dataset fact

    def hooks(self):
        """Module -> patch applied once the notebook imports it."""
        return {"keras.src.datasets.mnist": self._patch_keras_mnist} if "mnist" in self.served else {}

    def _patch_keras_mnist(self, module):
        spec = self.served["mnist"]
        original = module.load_data
        recorder = self

        def load_data(path="mnist.npz"):
            __tracebackhide__ = True
            np = _numpy()
            with np.load(spec["path"], allow_pickle=False) as data:
                train = (data["x_train"], data["y_train"])
                test = (data["x_test"], data["y_test"])
            if "mnist" not in recorder.facts:
                recorder.facts["mnist"] = {
                    "name": "mnist", "source": _text(spec.get("source", ""), 500),
                    "train_samples": int(len(train[0])), "test_samples": int(len(test[0])),
                }  # fmt: skip
                recorder.probe.safely(recorder._fingerprint_splits, "mnist", train[0], test[0])
            return train, test

        functools.update_wrapper(load_data, original)
        self.probe.integrity.remember(module, "load_data", load_data)
        for name, other in list(sys.modules.items()):
            if name.startswith(("keras", "tensorflow")) and getattr(other, "load_data", None) is original:
                other.load_data = load_data

    def _fingerprint_splits(self, name, x_train, x_test):
        """Remembers each split's fingerprint; records how much of the test split the file's own
        training split repeats (sampled test rows found among all training rows, normalised)."""
        np = _numpy()
        prints = {}
        for split, array in (("train", x_train), ("test", x_test)):
            count = int(len(array))
            positions = sample_rows(count)
            hashes = normalised_row_hashes(array, positions)
            if hashes is not None:
                prints[split] = (count, positions, hashes)
        self.split_prints[name] = prints
        if "train" in prints and "test" in prints:
            everything = normalised_row_hashes(x_train)
            if everything is not None:
                found = float(np.isin(prints["test"][2], everything).mean())
                self.facts[name]["test_in_train"] = found

    def _dataset_split(self, data):
        """"train" or "test" when ``data`` (a _Data) is a served split, whole and in order, up to
        scale and dtype; else None."""
        if data.array is None or not data.count:
            return None
        np = _numpy()
        found = set()
        for prints in self.split_prints.values():
            for split, (count, positions, hashes) in prints.items():
                if count != data.count:
                    continue
                mine = normalised_row_hashes(data.array, positions)
                if mine is not None and np.array_equal(mine, hashes):
                    found.add(split)
        return found.pop() if len(found) == 1 else None
