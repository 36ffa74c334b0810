"""The PyTorch round trip of verification outside the kernel, in this process: the probe's saving
(``probe/torch_save.py``) and the verifier's rebuilding (``verify_torch.py``), no kernel.

A rebuilt model computes what the student's module computes in evaluation mode, from torch's own
classes; a forward that cannot be traced leaves no file and a warning, so the model is reported
unverified rather than failed.
"""

from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

from grader.execute.probe.torch_save import TORCH_SAVE_SUFFIX, _save_torch_models  # noqa: E402
from grader.execute.verify_torch import TorchModel  # noqa: E402

nn, F = torch.nn, torch.nn.functional


class Net(nn.Module):
    """A student's class: layers in __init__, a forward with functions, a reshape and dropout."""

    def __init__(self):
        super().__init__()
        self.conv, self.norm = nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4)
        self.hidden, self.drop, self.out = nn.Linear(4 * 13 * 13, 16), nn.Dropout(0.3), nn.Linear(16, 10)
        self.unused = nn.Dropout(0.5)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.norm(self.conv(x))), 2)
        x = self.drop(F.relu(self.hidden(x.view(x.size(0), -1))))
        return F.log_softmax(self.out(x), dim=1)


class Branching(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(784, 10)

    def forward(self, x):
        return self.layer(x.flatten(1)) if x.sum() > 0 else -self.layer(x.flatten(1))


def saved(tmp_path, **models):
    """The probe's saving of ``models`` (trained on 1x28x28 rows), as after a run; its warnings."""
    warnings = []
    records = {id(model): {"id": number, "framework": "torch"} for number, model in enumerate(models.values(), 1)}
    probe = SimpleNamespace(
        fits=[{"model": record["id"]} for record in records.values()],
        models=records,
        objects={id(model): model for model in models.values()},
        torch=SimpleNamespace(torch_fits={(r["id"], 1): {"row_shape": [1, 28, 28]} for r in records.values()}),
        warn=warnings.append,
    )
    _save_torch_models(probe, str(tmp_path))
    return warnings


def test_a_students_module_is_rebuilt_from_torchs_own_classes_and_computes_the_same(tmp_path):
    torch.manual_seed(0)
    net = Net()
    net(torch.randn(8, 1, 28, 28))  # batch norm statistics that are not the defaults
    assert saved(tmp_path, net=net) == []
    rebuilt = TorchModel(torch, str(tmp_path / f"1{TORCH_SAVE_SUFFIX}"))
    assert [layer["path"] for layer in rebuilt.layers] == [
        "torch.nn.modules.conv.Conv2d",
        "torch.nn.modules.batchnorm.BatchNorm2d",
        "torch.nn.modules.linear.Linear",
        "torch.nn.modules.dropout.Dropout",
        "torch.nn.modules.linear.Linear",
    ]  # the Dropout built but never called is not there
    assert rebuilt.layers[3]["rate"] == pytest.approx(0.3)
    images = np.random.default_rng(0).random((5, 28, 28), dtype=np.float32)
    shaped = rebuilt.candidate_shapes(images)[0](images)
    net.eval()
    with torch.no_grad():
        expected = net(torch.from_numpy(shaped)).numpy()
    np.testing.assert_allclose(rebuilt.predict(np, shaped), expected, rtol=1e-5, atol=1e-5)


def test_a_model_in_double_precision_is_fed_doubles(tmp_path):
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10)).double()
    assert saved(tmp_path, model=model) == []
    rebuilt = TorchModel(torch, str(tmp_path / f"1{TORCH_SAVE_SUFFIX}"))
    images = np.random.default_rng(0).random((3, 28, 28), dtype=np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(images).double()).numpy()
    np.testing.assert_allclose(rebuilt.predict(np, images), expected, rtol=1e-6)


def test_a_forward_that_cannot_be_traced_leaves_no_file_and_says_so(tmp_path):
    warnings = saved(tmp_path, branching=Branching())
    assert not (tmp_path / f"1{TORCH_SAVE_SUFFIX}").exists()
    assert len(warnings) == 1 and "model 1 could not be saved for verification" in warnings[0]
