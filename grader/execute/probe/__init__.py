"""The probe: runs inside the student's kernel before the first cell and records what ran.

The runner sends ``probe_source()`` to the kernel and calls ``install(config)``; everything lives
in one object stored under an obscure attribute of ``sys``, so student code does not stumble on
it. The probe imports only the standard library (numpy when it first needs it) and never imports
Keras or PyTorch itself: a post-import hook on ``sys.meta_path`` patches them when the notebook
imports them, so a notebook that never imports TensorFlow never pays for it.

The kernel-side code is this package's parts, joined in a fixed order (``PARTS``) into one
source with their imports of each other removed; each concern is a recorder the probe holds:
- ``core``: the facts, the bookkeeping, ``install`` and ``audit_report``;
- ``integrity``: what the probe installed, checked at every cell boundary; the import hook;
- ``datasets``: ``keras.datasets.mnist.load_data()`` served from the file the runner staged, and
  which split of it an array is, by scale-invariant fingerprints;
- ``keras``: every Keras ``fit`` / ``evaluate`` / ``predict``, with layers, data sizes and row
  overlaps; ``budget``: the Keras fast budget;
- ``torch``: PyTorch root modules, training forwards, optimizer steps, eval forwards;
  ``torch_loaders``: the ``DataLoader`` passes (their labels; the fast budget's cap);
  ``torch_save``: trained modules saved for the clean verifier (weights as safetensors, the
  traced graph by names);
- ``compat``: APIs that Keras 3, NumPy 2 and pandas 2 removed, translated to today's equivalents
  with a note each (``SGD(lr=0.01)`` ran as ``SGD(learning_rate=0.01)``);
- ``files``: the assignment's ``files:`` read where students said (``/content/wine.csv``);
- ``outputs``: output guards; ``rows``: row hashing; ``common``: shared words and conversions.
Originals are always called exactly once with the caller's arguments (plus one recording
callback for Keras); results and exceptions pass through unchanged. A failure inside the probe
becomes a warning in the facts, never an error in the student's cell.

The fast budget (``config["budget"]``, the runner's ``mode="fast"``) is the one exception to
"the caller's arguments": Keras ``fit`` gets at most ``max_epochs`` epochs and ``max_train_samples``
training rows, ``evaluate``/``predict`` at most ``max_eval_samples`` rows, and every PyTorch
``DataLoader`` iterator stops after ``max_torch_batches`` batches. The student's code sees the
same structures (a History padded to the epochs asked for, predictions of the full length), and
every fact that decides a verdict (row overlaps, dataset splits) is measured on the student's
original arrays, so a fast run's held-out verdicts are a full run's.

The facts leave the kernel when the runner's last hidden request runs ``audit_report`` from a
fresh copy of the probe's code: it checks that the probe's code (the probe, each recorder, each
function and class) is still this code, that its recorders are still installed (``verify``), and
reports the facts with its own code as one ``display_data`` with a private MIME type whose JSON
carries the run's nonce. The probe checks its recorders again at every cell boundary; what it
finds goes first in the warnings, under the ``TAMPERED`` words, and the runner then discards the
facts. This stops casual tampering (putting ``keras.Model.fit`` back, deleting or replacing the
probe, bringing one's own ``keras`` module); code that reads this package can still forge facts,
see docs/security.md. The probe also checkpoints the facts to a file after each fit/evaluate, for
runs whose last cell cannot run.

Outputs are kept small on their way out (``outputs.py``): a large write to stdout/stderr is sent
in flushed pieces, and a display or result whose data is over ``rich_size`` bytes loses that
data, with a marker.

This module is the host side: it is never sent to the kernel.
"""

import ast
from pathlib import Path

from grader.execute.probe.common import FACTS_MIME, TAMPERED
from grader.execute.probe.outputs import STREAM_CHUNK

PARTS = (
    "common",
    "rows",
    "outputs",
    "integrity",
    "datasets",
    "budget",
    "keras",
    "torch_loaders",
    "torch",
    "torch_save",
    "compat",
    "files",
    "core",
)
__all__ = ["FACTS_MIME", "PARTS", "STREAM_CHUNK", "TAMPERED", "probe_files", "probe_source"]


def probe_files() -> list[Path]:
    """The kernel-side files, in the order they are joined."""
    folder = Path(__file__).parent
    return [folder / f"{part}.py" for part in PARTS]


def probe_source() -> str:
    """The probe's kernel-side code as one source: every part in ``PARTS`` order, without the
    imports of one part from another (in the kernel they share one namespace)."""
    return "\n\n".join(_without_own_imports(path.read_text(encoding="utf-8")) for path in probe_files())


def _without_own_imports(source: str) -> str:
    lines = source.splitlines()
    for node in reversed(ast.parse(source).body):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(__name__):
            del lines[node.lineno - 1 : node.end_lineno]
    return "\n".join(lines) + "\n"
