"""Verification outside the kernel: the trained models, measured by a process that never ran
student code.

Facts recorded inside the student's kernel can be forged by code that runs there. So after the
kernel is gone (and every process of its user killed), the models the probe saved into the run
folder (``<model id>.keras``, ``<model id>.torch.safetensors``) are handed to a clean verifier: a
long-lived Python process per framework, started by the grader in the same sandbox as a kernel
(limits, no network, a user of its own; with bubblewrap, a view holding only its own folder,
read-only, and its Python), running ``verify_worker.py`` (with ``verify_torch.py``) and nothing
else. It loads each Keras file with ``safe_mode`` and no custom objects, rebuilds
each PyTorch model from torch's own classes, and reports the layers' classes by module and
qualified name, the dropout rates, and the accuracy on the held-out split the grader served. One
verifier per framework serves every run of a grader process (importing Keras or torch costs
seconds; a model's check costs a fraction of one), one request at a time; it is started again if
it dies or stops answering.

What this defends against: a forged or edited facts record, a home-made layer named ``Dropout``,
a model that never learned (no-op ``train_step``, weights put back, a loop whose steps change
nothing). What it does not: a model whose file cannot be loaded safely (custom layers, lambdas,
a PyTorch forward with control flow or functions outside the verifier's list) is not verified,
and its checks rest on the probe's facts, flagged for review (``checks.py``).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import select
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from grader.execute import sandbox, standins
from grader.execute.sandbox.view import view_command
from grader.facts import Facts, Verification, VerifiedModel
from grader.settings import SandboxLimits

log = logging.getLogger(__name__)

START_TIMEOUT = 300.0  # seconds for the verifier to import Keras (slow on a loaded machine)
REQUEST_TIMEOUT = 120.0  # seconds for one model
MAX_MODEL_BYTES = 200 << 20
MAX_MODELS = 8  # models verified per run: the last ones trained
MAX_ANSWER = 1 << 20
SUFFIXES = {"keras": ".keras", "torch": ".torch.safetensors"}  # the probe's file for each framework


def _worker_source() -> str:
    """``verify_torch.py`` then ``verify_worker.py`` as one program, without their grader imports
    (the verifier imports nothing of the grader's)."""
    parts = (
        Path(__file__).with_name(name).read_text(encoding="utf-8") for name in ("verify_torch.py", "verify_worker.py")
    )
    return "\n\n".join(
        "\n".join(line for line in part.splitlines() if not line.startswith("from grader.")) for part in parts
    )


_WORKER_SOURCE = _worker_source()


def verify_models(facts: Facts, saved: Path, split: Path | None, staged: frozenset[str] | None = None) -> Facts:
    """``facts`` with its ``verification``: each Keras and PyTorch model that was trained, as the
    verifier found the file the probe saved for it in ``saved``; ``split``: the dataset file whose
    test split the grader served (None: layers are checked, accuracy is not); ``staged``: the served
    datasets the grader staged for the kernel (None: not known)."""
    started = time.monotonic()
    trained = [m for m in facts.models if m.framework in SUFFIXES and any(f.model == m.id for f in facts.fits)]
    if not trained:
        return facts.model_copy(update={"verification": Verification(seconds=time.monotonic() - started)})
    last_fit = {fit.model: index for index, fit in enumerate(facts.fits)}
    chosen = sorted(trained, key=lambda m: last_fit[m.id])[-MAX_MODELS:]
    results = []
    for model in chosen:
        measured_on, unmeasured = _held_out_for(facts, model.id, split, staged)
        path = saved / f"{model.id}{SUFFIXES[model.framework]}"
        results.append(_verify_one(model.id, model.framework, path, measured_on, unmeasured))
    skipped = [m.id for m in trained if m not in chosen]
    note = f"models {skipped} were not verified (at most {MAX_MODELS} a run)" if skipped else None
    verification = Verification(models=results, note=note, seconds=time.monotonic() - started)
    return facts.model_copy(update={"verification": verification})


def start_early(sources: list[str]) -> None:
    """Starts, in the background, the verifier of each framework whose models these code cells look
    like they train, so that the verifier's import of Keras or torch overlaps the kernel's run
    instead of following it: a single grade, such as a student's self-check, waits seconds less.
    A guess from the text: a wrong one costs a verifier started for nothing, or started late."""
    code = "\n".join(sources)
    for framework, (imports, trains) in TRAINING_WORDS.items():
        if any(word in code for word in imports) and any(word in code for word in trains):
            VERIFIERS[framework].start_in_background()


TRAINING_WORDS = {  # framework -> (words of its import, words of its training)
    "keras": (("keras", "tensorflow"), (".fit(",)),
    "torch": (("torch",), (".step(", ".backward(")),
}


def _held_out_for(
    facts: Facts, model_id: int, split: Path | None, staged: frozenset[str] | None
) -> tuple[Path | None, str | None]:
    """The split to measure a model on, or None and why not (None too when there is no split).

    ``split`` is the held-out split of ``standins.HELD_OUT`` (MNIST): a model is measured on it
    when it trained on MNIST's rows (the probe's ``Fit.dataset``), or on rows of unknown origin
    while MNIST was the one served dataset loaded, or none was (arrays read some other way, such as
    ``np.load``, leave no record). A model that trained on another served dataset, or on rows of
    unknown origin while several were loaded, is not: a Fashion-MNIST model scores near chance on
    MNIST digits and would look untrained. The kernel's facts can be forged: a dataset the grader
    did not stage (``staged``) was never loaded, and is not believed."""
    if split is None:
        return None, None

    def believed(name: str | None) -> str | None:
        name = standins.HELD_OUT if name is not None and name.startswith(standins.HELD_OUT) else name
        return name if name is None or staged is None or name in staged else None

    origins = {believed(fit.dataset) for fit in facts.fits if fit.model == model_id}
    only_ours = f"no held-out split to measure it on (the grader holds {_titles([standins.HELD_OUT])}'s only)"
    unknown = "which held-out split to measure it on is not known"
    if others := sorted(origins - {None, standins.HELD_OUT}):
        return None, f"trained on {_titles(others)}: {only_ours}"
    if standins.HELD_OUT in origins:
        return split, None
    loaded = sorted({name for dataset in facts.datasets if (name := believed(dataset.name)) is not None})
    if loaded in ([], [standins.HELD_OUT]):
        return split, None
    if standins.HELD_OUT not in loaded:
        return None, f"the notebook loaded {_titles(loaded)}: {only_ours}"
    return None, f"trained on rows of unknown origin while the notebook loaded {_titles(loaded)}: {unknown}"


def _titles(names: list[str]) -> str:
    """Served datasets as people name them ("MNIST and Fashion-MNIST")."""
    titles = [standins.STANDINS[name].title if name in standins.STANDINS else name.upper() for name in names]
    return " and ".join(titles) if len(titles) < 3 else ", ".join(titles[:-1]) + " and " + titles[-1]


def _verify_one(
    model_id: int, framework: str, path: Path, split: Path | None, unmeasured: str | None = None
) -> VerifiedModel:
    """The verifier's answer for one model file (``unmeasured``: why it is not measured on a split)."""
    problem = _file_problem(path)
    if problem:
        return VerifiedModel(model=model_id, loaded=False, reason=problem)
    answer = VERIFIERS[framework].ask(path, split)
    if not answer.get("loaded"):
        return VerifiedModel(model=model_id, loaded=False, reason=_short(str(answer.get("error") or "not loaded")))
    try:
        return VerifiedModel.model_validate({**answer, "model": model_id, "reason": unmeasured and unmeasured[:600]})
    except ValueError as exc:
        return VerifiedModel(model=model_id, loaded=False, reason=f"the verifier's answer did not fit: {exc}"[:600])


def _short(error: str) -> str:
    """An error's first sentence (Keras' load errors go on to quote the whole model config)."""
    first = error.split(". ", 1)[0]
    return first if len(first) <= 240 else first[:237] + "..."


def _file_problem(path: Path) -> str | None:
    """Why the probe's file is not one to load (missing, a link, not a plain file, too large)."""
    try:
        info = os.lstat(path)
    except OSError:
        return "the model could not be saved in the kernel (a custom or unsaveable model), so no file was left"
    if not stat.S_ISREG(info.st_mode):
        return "the saved model is not a plain file"
    if info.st_size > MAX_MODEL_BYTES:
        return f"the saved model is {info.st_size:,} bytes, over the {MAX_MODEL_BYTES:,} limit"
    return None


class _Verifier:
    """The clean process of one framework and the one lock that serialises requests to it."""

    def __init__(self, framework: str) -> None:
        self.framework = framework
        self.lock = threading.Lock()
        self.process: subprocess.Popen | None = None
        self.folder: Path | None = None
        self.who = None
        self.failure: str | None = None  # why it cannot start here (no Keras, no torch): said once per process
        self.splits: dict[str, Path] = {}

    def ask(self, model: Path, split: Path | None) -> dict:
        with self.lock:
            if self.failure:
                return {"loaded": False, "error": self.failure}
            try:
                self._ensure_started()
            except (OSError, RuntimeError) as exc:
                self._stop()
                return {"loaded": False, "error": f"the verifier could not start: {exc}"[:600]}
            if self.failure:
                return {"loaded": False, "error": self.failure}
            try:
                request = {"model": str(self._inbox(model)), "split": str(self._split(split)) if split else None}
                self.process.stdin.write(json.dumps(request) + "\n")
                self.process.stdin.flush()
                return json.loads(self._read_line(REQUEST_TIMEOUT))
            except (OSError, RuntimeError, ValueError) as exc:
                self._stop()  # a verifier that failed once is not trusted with the next request
                return {"loaded": False, "error": f"the verifier failed on this model: {exc}"[:600]}
            finally:
                if self.folder is not None:
                    for file in self.folder.glob("model-*"):
                        file.unlink(missing_ok=True)

    def start_in_background(self) -> None:
        """Starts the process in a thread of its own; the first ``ask`` waits for it (the lock)."""
        if self.failure or (self.process is not None and self.process.poll() is None):
            return
        threading.Thread(target=self._start_now, name=f"verifier-{self.framework}-start", daemon=True).start()

    def _start_now(self) -> None:
        with self.lock:
            try:
                self._ensure_started()
            except (OSError, RuntimeError):  # ``ask`` starts it again and says why it cannot
                self._stop()

    def _ensure_started(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        self._stop()
        enforcement = sandbox.plan(False, "auto")
        self.who = sandbox.kernel_user(enforcement)
        self.folder = Path(tempfile.mkdtemp(prefix=f"grader-verifier-{os.getpid()}-"))
        limits = SandboxLimits()
        env = {"PATH": os.defpath, "HOME": str(self.folder), "LANG": "C.UTF-8", "TF_CPP_MIN_LOG_LEVEL": "3",
               "KERAS_BACKEND": "tensorflow", "OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1",
               "TF_NUM_INTEROP_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}  # fmt: skip
        if self.who is not None:
            self.folder.chmod(0o711)
            sandbox.hand_over(self.folder, self.who)
        command = [sys.executable, "-I", "-c", _WORKER_SOURCE, self.framework]
        if enforcement.bubblewrap:  # it sees its own folder, read-only, and the Python it runs: nothing else
            command = view_command(enforcement.bubblewrap, enforcement, limits, [], self.folder, (str(self.folder),),
                                   die_with_parent=False) + command  # fmt: skip
        self.process = subprocess.Popen(
            command, cwd=str(self.folder), env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            # Not tied to the thread that starts it (a batch's threads come and go); it ends at EOF on
            # its stdin when the grader does, and a grader killed outright leaves it to sweep_stale.
            preexec_fn=sandbox.preexec(limits, enforcement, self.who, sandbox.process_allowance(limits, self.who),
                                       die_with_parent=False),
        )  # fmt: skip
        ready = json.loads(self._read_line(START_TIMEOUT))
        if not ready.get("ready"):
            library = {"keras": "Keras", "torch": "PyTorch"}[self.framework]
            self.failure = f"{library} cannot be loaded outside the kernel here ({ready.get('error')})"[:600]
            self._stop()

    def _inbox(self, model: Path) -> Path:
        """A copy of the kernel's file in the verifier's own folder (the kernel's folder is closed to it)."""
        target = self.folder / f"model-{time.monotonic_ns()}{SUFFIXES[self.framework]}"
        with open(model, "rb", opener=lambda path, flags: os.open(path, flags | os.O_NOFOLLOW)) as source:
            with open(target, "wb") as copy:
                shutil.copyfileobj(source, copy)
        sandbox.hand_over(target.parent, self.who)
        return target

    def _split(self, split: Path) -> Path:
        key = str(split)
        if key not in self.splits:
            target = self.folder / f"split-{len(self.splits)}.npz"
            shutil.copyfile(split, target)
            sandbox.hand_over(self.folder, self.who)
            self.splits[key] = target
        return self.splits[key]

    def _read_line(self, timeout: float) -> str:
        stream = self.process.stdout
        ready, _, _ = select.select([stream], [], [], timeout)
        if not ready:
            raise RuntimeError(f"no answer within {timeout:g} s")
        line = stream.readline(MAX_ANSWER)
        if not line.endswith("\n"):
            raise RuntimeError("the verifier ended or sent an answer over the size limit")
        return line

    def _stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
        sandbox.release(self.who)
        self.who = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
        self.splits = {}

    def close(self) -> None:
        with self.lock:
            self._stop()


VERIFIERS = {framework: _Verifier(framework) for framework in SUFFIXES}


@atexit.register
def _close_verifiers() -> None:
    for verifier in VERIFIERS.values():
        verifier.close()
