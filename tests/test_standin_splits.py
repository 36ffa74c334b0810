"""Each dataset stand-in's splits are recognised by the probe as fast mode needs them: the test
split (whatever its scaling) and the training split by their fingerprints, taken at the load,
before the fast budget cuts anything; a torchvision split, and any Subset of one, by the rows of
the split it picks, since a fast run's loaders draw only a few batches. And triton, which
PyTorch's CUDA build brings (for torchvision), kept out of a kernel without a GPU.

In-process, no kernel: the probe's dataset recorder on the real stand-in files. The same facts in
a real fast kernel: tests/test_budget.py."""

from __future__ import annotations

import os
import sys
import types

import numpy as np
import pytest

from grader.execute import standins
from grader.execute.probe.core import _Probe
from grader.execute.probe.rows import _Data


@pytest.fixture(scope="module")
def recorder(cache_dir):
    served = {
        name: {"path": str(standins.standin_npz(name, cache_dir)), "source": standins.source_of(name)}
        for name in standins.SERVED
    }
    return _Probe({"nonce": "n", "attribute": "_unused", "datasets": served}).datasets


def loaded_through_keras(recorder, name):
    module = types.ModuleType(f"keras.src.datasets.{name}")
    module.load_data = lambda: None
    recorder._patch_keras_loader(name, module)
    return module.load_data()


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10", "cifar100"])
def test_each_keras_stand_in_names_its_splits_scaled_or_not_and_a_slice_is_neither(recorder, name):
    (x_train, _), (x_test, _) = loaded_through_keras(recorder, name)
    split = recorder._dataset_split
    assert (split(_Data(x_test)), split(_Data(x_test / 255.0)), split(_Data(x_test.astype("float32")))) == ("test",) * 3
    assert split(_Data(x_train / 255.0)) == "train"
    assert split(_Data(x_train[: len(x_train) // 2])) is None
    assert recorder.facts[name]["source"] == standins.source_of(name)


def test_the_rows_a_model_trains_on_name_their_dataset_whichever_way_they_are_cut_or_scaled(recorder):
    """``Fit.dataset``: what the verifier measures a model on. Rows of a training split (a slice,
    scaled, flattened) or a split whole name their dataset; rows of two datasets, or rows the
    probe never served, name none."""
    loaded = {name: loaded_through_keras(recorder, name) for name in ("mnist", "fashion_mnist", "cifar10")}
    (digits, _), (digits_test, _) = loaded["mnist"]
    (fashion, _), _ = loaded["fashion_mnist"]
    (cifar, _), _ = loaded["cifar10"]

    def origin(rows):
        return recorder._provenance(_Data(rows))[1]

    assert origin(fashion[:300].reshape(300, 784) / 255.0) == "fashion_mnist"
    assert origin(digits[100:612].astype("float32") / 255) == "mnist"
    assert origin(digits_test / 255.0) == "mnist" and origin(cifar) == "cifar10"
    assert origin(np.concatenate([digits[:200], fashion[:200]])) is None
    assert origin(np.random.default_rng(0).random((64, 28, 28))) is None


def test_openmls_mnist_784_names_its_splits_as_students_cut_them(recorder):
    module = types.ModuleType("sklearn.datasets._openml")
    module.fetch_openml = lambda *args, **kwargs: None
    recorder._patch_openml(module)
    x, _ = module.fetch_openml("mnist_784", version=1, return_X_y=True, as_frame=False)
    assert x.shape == (70_000, 784)
    split = recorder._dataset_split
    assert (split(_Data(x[:60_000] / 255.0)), split(_Data(x[60_000:]))) == ("train", "test")


class Subset:
    """What torch.utils.data.Subset (and random_split) holds: a dataset and positions in it."""

    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, indices


def test_a_torchvision_split_and_its_subsets_are_the_rows_of_the_split_they_pick(recorder):
    train = types.SimpleNamespace(targets=list(range(100)))
    recorder.torch_served[id(train)] = (train, ("cifar10", "train"))
    key, rows = recorder.torch_rows(train)
    assert key == ("cifar10", "train") and np.array_equal(rows, np.arange(100))
    validation = Subset(Subset(train, [5, 7, 9, 11]), [3, 0])
    key, rows = recorder.torch_rows(validation)
    assert key == ("cifar10", "train") and rows.tolist() == [11, 5]
    assert recorder.torch_rows(types.SimpleNamespace(targets=list(range(100)))) is None  # not served


def test_triton_is_hidden_from_the_kernel_on_a_machine_without_a_gpu(tmp_path, monkeypatch):
    """PyTorch's CUDA build brings triton; loaded after TensorFlow it crashes the kernel."""
    from grader.execute.probe.torch import _hide_triton

    (tmp_path / "triton").mkdir()
    (tmp_path / "triton" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "triton", raising=False)
    monkeypatch.setattr(os.path, "exists", lambda path: False if path == "/dev/nvidiactl" else True)
    _hide_triton()
    with pytest.raises(ImportError):
        import triton  # noqa: F401
    monkeypatch.delitem(sys.modules, "triton")
