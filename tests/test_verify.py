"""Which held-out split the clean verifier measures a run's models on (``execute/verify.py``), with
the verifier itself replaced by a recorder: no process, no framework."""

from pathlib import Path

import numpy as np
import pytest

from grader.execute import verify
from grader.execute.verify_worker import _accuracy
from grader.facts import Dataset, Facts, Fit, Model

SPLIT = Path("/grader/cache/mnist.npz")


@pytest.fixture
def asked(monkeypatch, tmp_path):
    """The splits the verifier was asked to measure on, one per model; ``origins``: the served
    dataset each model's fit says its rows came from; ``staged``: what the grader staged."""
    splits = []

    class Recorder:
        def ask(self, model, split):
            splits.append(split)
            return {"loaded": True, "layers": []}

    monkeypatch.setattr(verify, "VERIFIERS", {"keras": Recorder(), "torch": Recorder()})
    (tmp_path / "1.keras").write_bytes(b"model")
    (tmp_path / "2.torch.safetensors").write_bytes(b"model")

    def run(*datasets: str, origins=(None, None), staged=None) -> list:
        facts = Facts(
            models=[Model(id=1, framework="keras", cls="Sequential"), Model(id=2, framework="torch", cls="Sequential")],
            fits=[Fit(model=1, dataset=origins[0]), Fit(model=2, dataset=origins[1])],
            datasets=[Dataset(name=name, source="stand-in") for name in datasets],
        )
        verified = verify.verify_models(facts, tmp_path, SPLIT, staged)
        assert [m.model for m in verified.verification.models] == [1, 2]
        run.reasons = [m.reason for m in verified.verification.models]
        return splits

    return run


@pytest.mark.parametrize("datasets", [(), ("mnist",), ("mnist_784",)])
def test_models_of_a_notebook_that_loaded_mnist_or_read_its_own_arrays_are_measured_on_it(asked, datasets):
    assert asked(*datasets) == [SPLIT, SPLIT]
    assert asked.reasons == [None, None]


def test_models_of_a_notebook_that_loaded_only_another_dataset_are_not_measured_on_mnist(asked):
    assert asked("fashion_mnist") == [None, None]
    assert (
        asked.reasons
        == ["the notebook loaded Fashion-MNIST: no held-out split to measure it on (the grader holds MNIST's only)"] * 2
    )


def test_each_model_is_measured_only_on_the_split_of_the_dataset_it_trained_on(asked):
    """MNIST and Fashion-MNIST in one notebook: the digits model is measured on MNIST's held-out
    split; the Fashion-MNIST model, which would score near chance on digits, is not measured."""
    assert asked("mnist", "fashion_mnist", origins=("fashion_mnist", "mnist")) == [None, SPLIT]
    assert asked.reasons == [
        "trained on Fashion-MNIST: no held-out split to measure it on (the grader holds MNIST's only)",
        None,
    ]


def test_rows_of_unknown_origin_are_measured_only_when_mnist_was_the_one_dataset_loaded(asked):
    assert asked("mnist", "cifar10", "fashion_mnist", origins=(None, "mnist_784")) == [None, SPLIT]
    assert asked.reasons[0] == (
        "trained on rows of unknown origin while the notebook loaded CIFAR-10, Fashion-MNIST and MNIST: which held-out"
        " split to measure it on is not known"
    )


def test_a_dataset_the_grader_did_not_stage_is_a_forged_origin_and_not_believed(asked):
    """Facts come from the kernel: a model of an MNIST-only notebook said to have trained on
    Fashion-MNIST (never staged, so never loaded) is measured on MNIST, where an untrained model is
    contradicted; a forged list of loaded datasets is not believed either."""
    staged = frozenset({"mnist"})
    assert asked("mnist", "fashion_mnist", origins=("fashion_mnist", None), staged=staged) == [SPLIT, SPLIT]
    assert asked.reasons == [None, None]


@pytest.mark.parametrize(
    ("sources", "started"),
    [
        (["from tensorflow import keras", "model.fit(x, y)"], ["keras"]),
        (["import torch", "loss.backward()\nopt.step()"], ["torch"]),
        (["import tensorflow as tf"], []),  # the floor: imports, never trains
        (["import torch", "from tensorflow import keras", "m.fit(x, y)", "opt.step()"], ["keras", "torch"]),
    ],
)
def test_the_verifiers_a_notebook_will_need_start_while_its_kernel_runs(monkeypatch, sources, started):
    calls = []

    class Starter:
        def __init__(self, framework):
            self.framework = framework

        def start_in_background(self):
            calls.append(self.framework)

    monkeypatch.setattr(verify, "VERIFIERS", {name: Starter(name) for name in ("keras", "torch")})
    verify.start_early(sources)
    assert calls == started


def test_a_model_fed_pixels_scaled_to_minus_one_to_one_is_measured_so():
    """torchvision's Normalize((0.5,), (0.5,)), the tutorials' choice: a model that learned on -1..1
    pixels is measured on them, not graded down as if it had not learned."""

    class CentredThreshold:
        """Class 1 for images darker than mid-grey on the -1..1 scale; right only on that scale."""

        def candidate_shapes(self, images):
            return [lambda x: x]

        def predict(self, np, images):
            return (images.reshape(len(images), -1).mean(axis=1) < -0.5).astype("float32")

    brightness = np.repeat(np.arange(0, 256, 32, dtype="uint8"), 25)
    x = np.broadcast_to(brightness[:, None, None], (len(brightness), 28, 28)).copy()
    y = (x[:, 0, 0] / 255.0 * 2 - 1 < -0.5).astype("int64")
    measured = _accuracy(CentredThreshold(), np, x, y)
    assert measured["accuracy"] == 1.0 and measured["prepared"] == "centred on 0.5"
