"""Datasets: the files the runner staged, served where notebooks load them, never downloaded.

- ``keras.datasets.{mnist,fashion_mnist,cifar10,cifar100}.load_data()``;
- ``torchvision.datasets.{MNIST,FashionMNIST,CIFAR10,CIFAR100}(root, train, ..., download=...)``:
  the dataset holds the staged arrays (``download=True`` fetches nothing);
- ``sklearn.datasets.fetch_openml("mnist_784")`` (or ``data_id=554``): MNIST's 70,000 rows, the
  first 60,000 its training split, as OpenML gives them (float pixels, string labels).
Each dataset served becomes a Dataset fact naming its source (a stand-in or the instructor's file).

At each Keras or OpenML load, each split gets a scale-invariant fingerprint (its length and the
hashes of rows at fixed positions, each row divided by its largest absolute value), so
``x_test / 255.`` is still the test split even when the data file repeats its test images inside
its training images. A torchvision dataset served, and any ``Subset`` of one, is known by the rows
of the split it picks (``torch_rows``). Kernel-side code (see ``common.py``)."""

import functools
import sys

from grader.execute.probe.common import _numpy, _text
from grader.execute.probe.rows import normalised_row_hashes, sample_rows

_KERAS_DATASETS = ("mnist", "fashion_mnist", "cifar10", "cifar100")
_TORCHVISION_DATASETS = {
    "MNIST": "mnist",
    "FashionMNIST": "fashion_mnist",
    "CIFAR10": "cifar10",
    "CIFAR100": "cifar100",
}
_CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_OPENML_MNIST = ("mnist_784", 554)
_SERVED_AS = {"mnist_784": "mnist"}  # a fingerprinted dataset -> the served one it is (OpenML's MNIST is MNIST)
KEPT_BACK = 0.9  # share of an array's sampled rows found among a training split's: rows kept back from it


class _Datasets:
    """Serves the staged datasets and fingerprints their splits."""

    def __init__(self, probe, served):
        self.probe = probe
        self.served = {name: spec for name, spec in served.items() if name != "files"}  # name -> {"path", "source"}
        self.split_prints = {}  # dataset name -> {split: (rows, sampled positions, their hashes)}
        self.training_rows = {}  # dataset name -> the normalised hashes of all its training rows
        self.facts = {}  # dataset name -> its Dataset fact
        self.torch_served = {}  # id(a torchvision dataset served) -> (that dataset, (name, "train" | "test"))

    def hooks(self):
        """Module -> patch applied once the notebook imports it."""
        hooks = {
            f"keras.src.datasets.{name}": self._keras_patch(name) for name in _KERAS_DATASETS if name in self.served
        }
        if any(name in self.served for name in _TORCHVISION_DATASETS.values()):  # each class checks at the call
            hooks["torchvision.datasets.mnist"] = self._patch_torchvision
            hooks["torchvision.datasets.cifar"] = self._patch_torchvision
        if "mnist" in self.served:
            hooks["sklearn.datasets._openml"] = self._patch_openml
        return hooks

    def load(self, name, fact_name=None):
        """(x_train, y_train), (x_test, y_test) of a served dataset, recorded as a Dataset fact."""
        np = _numpy()
        spec = self.served[name]
        with np.load(spec["path"], allow_pickle=False) as data:
            train = (data["x_train"], data["y_train"])
            test = (data["x_test"], data["y_test"])
        fact_name = fact_name or name
        if fact_name not in self.facts:
            self.facts[fact_name] = {
                "name": fact_name, "source": _text(spec.get("source", ""), 500),
                "train_samples": int(len(train[0])), "test_samples": int(len(test[0])),
            }  # fmt: skip
        return train, test

    def _keras_patch(self, name):
        def patch(module):
            self._patch_keras_loader(name, module)

        patch.__name__ = f"_patch_keras_{name}"
        return patch

    def _patch_keras_loader(self, name, module):
        original = module.load_data
        recorder = self

        def load_data(*args, **kwargs):
            __tracebackhide__ = True
            train, test = recorder.load(name)
            if name not in recorder.split_prints:
                recorder.probe.safely(recorder._fingerprint_splits, name, train[0], test[0])
            label_mode = kwargs.get("label_mode", args[0] if args and name == "cifar100" else "fine")
            if name == "cifar100" and label_mode == "coarse":  # CIFAR-100's 20 superclasses
                train, test = (train[0], train[1] // 5), (test[0], test[1] // 5)
            return train, test

        functools.update_wrapper(load_data, original)
        self.probe.integrity.remember(module, "load_data", load_data)
        for other_name, other in list(sys.modules.items()):
            if other_name.startswith(("keras", "tensorflow")) and getattr(other, "load_data", None) is original:
                other.load_data = load_data

    def _patch_torchvision(self, module):
        for class_name in ("MNIST", "CIFAR10"):  # FashionMNIST and CIFAR100 inherit their __init__
            cls = vars(module).get(class_name)
            if cls is not None and "__init__" in vars(cls):
                self.probe.integrity.remember(cls, "__init__", self._torchvision_init(cls))

    def _torchvision_init(self, cls):
        recorder = self
        original = cls.__init__

        def __init__(_dataset, root=None, train=True, transform=None, target_transform=None, download=False, **kwargs):
            __tracebackhide__ = True
            name = _TORCHVISION_DATASETS.get(type(_dataset).__name__)
            if name not in recorder.served or kwargs:
                return original(_dataset, root, train, transform, target_transform, download, **kwargs)
            super(cls, _dataset).__init__(
                root if root is not None else "data", transform=transform, target_transform=target_transform
            )
            _dataset.train = train
            recorder.torch_served[id(_dataset)] = (_dataset, (name, "train" if train else "test"))
            (x_train, y_train), (x_test, y_test) = recorder.load(name)
            images, labels = (x_train, y_train) if train else (x_test, y_test)
            labels = labels.reshape(-1)
            if name.startswith("cifar"):
                _dataset.data, _dataset.targets = images, [int(label) for label in labels]
                classes = _CIFAR10_CLASSES if name == "cifar10" else tuple(f"class_{i}" for i in range(100))
                _dataset.classes, _dataset.class_to_idx = list(classes), {c: i for i, c in enumerate(classes)}
            else:
                import torch

                _dataset.data, _dataset.targets = (
                    torch.from_numpy(images.copy()),
                    torch.from_numpy(labels.astype("int64")),
                )

        functools.update_wrapper(__init__, original)
        return __init__

    def torch_rows(self, dataset, depth=0):
        """((name, split), positions in that split) of a torchvision dataset the probe served, or of a
        ``Subset`` (``random_split``) of one; else None. A fast run's loaders stop after a few
        batches: these positions say which rows a whole pass would have given, without running the
        dataset's transforms."""
        entry = self.torch_served.get(id(dataset))
        if entry is not None and entry[0] is dataset:
            return entry[1], _numpy().arange(len(dataset.targets))
        inner, indices = getattr(dataset, "dataset", None), getattr(dataset, "indices", None)
        if inner is None or indices is None or depth >= 10:
            return None
        found = self.torch_rows(inner, depth + 1)
        if found is None:
            return None
        return found[0], found[1][_numpy().asarray(indices, dtype="int64")]

    def _patch_openml(self, module):
        original = module.fetch_openml
        recorder = self

        def fetch_openml(name=None, *args, **kwargs):
            __tracebackhide__ = True
            if name not in _OPENML_MNIST[:1] and kwargs.get("data_id") != _OPENML_MNIST[1]:
                return original(name, *args, **kwargs)
            return recorder._openml_mnist(kwargs.get("as_frame", "auto"), kwargs.get("return_X_y", False))

        functools.update_wrapper(fetch_openml, original)
        self.probe.integrity.remember(module, "fetch_openml", fetch_openml)
        for other_name, other in list(sys.modules.items()):
            if other_name.startswith("sklearn") and getattr(other, "fetch_openml", None) is original:
                other.fetch_openml = fetch_openml

    def _openml_mnist(self, as_frame, return_x_y):
        """OpenML's mnist_784 as ``fetch_openml`` returns it: 784 float pixel columns, string labels."""
        np = _numpy()
        (x_train, y_train), (x_test, y_test) = self.load("mnist", "mnist_784")
        data = np.concatenate([x_train, x_test]).reshape(-1, 784).astype("float64")
        target = np.concatenate([y_train, y_test]).astype(str).astype(object)
        if "mnist_784" not in self.split_prints:
            self.probe.safely(self._fingerprint_splits, "mnist_784", data[: len(x_train)], data[len(x_train) :])
        features = [f"pixel{i}" for i in range(1, 785)]
        if as_frame in (True, "auto"):
            import pandas

            data = pandas.DataFrame(data, columns=features)
            target = pandas.Series(pandas.Categorical(target, categories=[str(i) for i in range(10)]), name="class")
        if return_x_y:
            return data, target
        from sklearn.utils import Bunch

        frame = None
        if as_frame in (True, "auto"):
            frame = data.assign(**{"class": target})
        return Bunch(data=data, target=target, frame=frame, feature_names=features, target_names=["class"],
                     categories=None, details={"name": "mnist_784", "id": 554}, url="", DESCR=self.served["mnist"]["source"])  # fmt: skip

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
                self.training_rows[name] = everything
                found = float(np.isin(prints["test"][2], everything).mean())
                self.facts[name]["test_in_train"] = found

    def _validation_split(self, data):
        """ "test" when ``data`` (a _Data) is a served test split, whole; "train" when nearly all its
        rows are rows of a served training split (a validation set kept back from the training
        images, not a test set); else None."""
        whole = self._dataset_split(data)
        if whole is not None:
            return whole
        return "train" if self._kept_back_from(data) else None

    def _dataset_split(self, data):
        """ "train" or "test" when ``data`` (a _Data) is a served split, whole and in order, up to
        scale and dtype; else None."""
        return _only({split for _, split in self._whole_splits(data)})

    def _provenance(self, data):
        """(``_dataset_split``, the served dataset whose rows ``data`` holds): one of its splits
        whole, or rows nearly all of which are rows of its training split (None when unknown). The
        verifier measures a model only on the held-out split of the dataset it trained on."""
        whole = self._whole_splits(data)
        names = {_SERVED_AS.get(name, name) for name, _ in whole}
        names = names or {_SERVED_AS.get(name, name) for name in self._kept_back_from(data)}
        return _only({split for _, split in whole}), _only(names)

    def _kept_back_from(self, data):
        """The datasets (by fingerprint name) of whose training split nearly all sampled rows of
        ``data`` (a _Data) are rows."""
        hashes = data.normalised_sample() if data.count else None
        if hashes is None:
            return []
        np = _numpy()
        return [name for name, rows in self.training_rows.items() if np.isin(hashes, rows).mean() > KEPT_BACK]

    def _whole_splits(self, data):
        """(dataset, split) of each served split that ``data`` (a _Data) is, whole and in order, up
        to scale and dtype."""
        if data.array is None or not data.count:
            return set()
        np = _numpy()
        found = set()
        for name, prints in self.split_prints.items():
            for split, (count, positions, hashes) in prints.items():
                if count != data.count:
                    continue
                mine = normalised_row_hashes(data.array, positions)
                if mine is not None and np.array_equal(mine, hashes):
                    found.add((name, split))
        return found


def _only(found):
    """The one element of a set, or None when it has none or several."""
    return next(iter(found)) if len(found) == 1 else None
