"""The grader's own requests to the kernel, and the facts that come back on them.

A hidden request is ``silent``: no output, execution count or history. Only what answers it by
its message id counts; anything else the notebook (or a thread of it) prints meanwhile is
dropped. The probe's final report is asked of a fresh copy of its code, comes back as one
``display_data`` with a private MIME type and this run's nonce, and is parsed against the capped
facts schema; a second facts message, a forged nonce or a tampering warning discards the run's
facts. When a grader limit ended the kernel, the probe's checkpoint file stands in, flagged.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from queue import Empty

from jupyter_core.utils import ensure_async

from grader.execute.outputs import MAX_MESSAGE
from grader.execute.probe import FACTS_MIME, TAMPERED, probe_source
from grader.execute.run_record import Run
from grader.facts import MAX_FACTS_BYTES, Facts, FactsError, parse_facts

CHECKPOINT_USED = "needs review: facts from the probe's checkpoint"
REPORT_TIMEOUT = 60.0  # seconds for the probe's final report
SILENT_CHANNEL = 5.0  # seconds after a hidden request's reply in which its output must have begun
MAX_FACTS_READ = MAX_FACTS_BYTES + 1  # bytes read of the checkpoint file: one more than may pass
# Read once: a probe edited or upgraded while a batch runs must not make every running
# notebook fail its final audit against a different copy.
PROBE_SOURCE = probe_source()


@dataclass
class Answer:
    """What came back for one hidden request."""

    reply: dict | None = None
    facts: list[dict] = field(default_factory=list)  # facts displays answering it, in order
    heard: bool = False  # any message on the output channel answered it
    idle: bool = False  # the kernel said it finished it


def probe_request(call: str) -> str:
    """Code that runs a fresh copy of the probe's code, then ``call``, in a namespace of its own."""
    program = PROBE_SOURCE + f"\n{call}\n"
    return f"exec(compile({program!r}, '<grader-probe>', 'exec'), {{'__name__': 'grader_probe'}})"


async def hidden(run: Run, code: str, timeout: float) -> Answer:
    """Runs ``code`` silently and gathers what answers it: the execute_reply (None on timeout or
    death), every facts display it published, and whether anything at all came back on the
    output channel. Anything else it (or a thread of the notebook) prints is dropped."""
    kc = run.client.kc
    msg_id = kc.execute(code, silent=True, store_history=False, allow_stdin=False, stop_on_error=False)
    deadline = time.monotonic() + timeout
    answer = Answer()
    replied_at = None
    while True:
        now = time.monotonic()
        if now >= deadline:
            return answer
        if answer.reply is None:
            answer.reply = await _shell_reply(run, msg_id)
            replied_at = now if answer.reply is not None else None
        if answer.reply is not None and (answer.idle or (not answer.heard and now - replied_at > SILENT_CHANNEL)):
            return answer  # done; or the output channel is silent although the kernel answered
        try:
            message = await kc.get_iopub_msg(timeout=min(deadline - now, 0.2))
        except Empty:
            if answer.reply is None and not await ensure_async(kc.is_alive()):
                return answer
            continue
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        answer.heard = True
        if message["msg_type"] == "status":
            answer.idle = answer.idle or message["content"].get("execution_state") == "idle"
        elif message["msg_type"] == "display_data" and FACTS_MIME in (message["content"].get("data") or {}):
            answer.facts.append(message)


async def _shell_reply(run: Run, msg_id: str) -> dict | None:
    """The execute_reply to ``msg_id`` if it has come; replies to other requests are dropped."""
    while True:
        try:
            message = await run.client.kc.get_shell_msg(timeout=0)
        except Empty:
            return None
        if message["parent_header"].get("msg_id") == msg_id:
            return message


async def collect_facts(run: Run) -> None:
    """The probe's report, asked of a fresh copy of its code; the checkpoint file only when the
    kernel was ended by a limit the grader enforces (it cannot answer any more), and flagged."""
    payload, source = None, "report"
    if run.status != "kernel_died" and not run.stuck:
        started = time.monotonic()
        models = str(run.folder.models)
        answer = await hidden(
            run, probe_request(f"audit_report({run.attribute!r}, {run.nonce!r}, {models!r})"), REPORT_TIMEOUT
        )
        run.timings["report"] = time.monotonic() - started
        if len(answer.facts) > 1:
            return _tampered(
                run, f"{len(answer.facts)} facts messages answered the grader's final request; only one is the grader's"
            )
        if not answer.facts:
            return _no_report(run, answer)
        found = answer.facts[0]["content"]["data"][FACTS_MIME]
        payload = found if isinstance(found, str) else json.dumps(found)
    elif run.stuck or run.died_by_limit:
        source = "checkpoint"
        payload = _read_checkpoint(run)
    else:
        run.messages.append(
            "the probe's checkpoint was not used: the kernel was not ended by a limit the grader enforces"
        )
    if payload is None:
        return
    try:
        facts = parse_facts(payload)
        if json.loads(payload).get("nonce") != run.nonce:
            return _tampered(run, f"the kernel's facts ({source}) do not carry this run's nonce: they were forged")
    except FactsError as exc:
        run.messages.append(str(exc))
        run.facts = Facts(warnings=[str(exc)[:500]])
        return
    tampering = [warning for warning in facts.warnings if warning.startswith(TAMPERED)]
    if tampering:
        return _tampered(run, "; ".join(warning[len(TAMPERED) :].lstrip(": ") for warning in tampering[:5]))
    if source == "checkpoint":
        note = (
            f"{CHECKPOINT_USED}: the kernel was ended by a grader limit before its final report; the facts"
            " were written inside the kernel and could not be checked"
        )
        run.messages.append(note)
        facts = facts.model_copy(update={"warnings": [*facts.warnings, note]})
    run.facts = facts


def _no_report(run: Run, answer: Answer) -> None:
    """No facts message answered the final request: say why, as far as the grader can tell."""
    content = (answer.reply or {}).get("content", {})
    if answer.reply is not None and not answer.heard:
        # The kernel answered, but not one message came back on its output channel: zmq cut
        # that channel for good when a message over MAX_MESSAGE arrived earlier.
        message = (
            f"output too large: a message from the kernel over {MAX_MESSAGE >> 20} MiB (a huge display or widget"
            " state) cut its output channel; later outputs and the facts could not be read"
        )
    elif content.get("ename") == "MemoryError":
        message = "the probe's report could not run: the kernel was out of memory; no facts could be read"
    else:
        failed = f" ({content.get('ename')}: {str(content.get('evalue'))[:200]})" if content.get("ename") else ""
        if answer.reply is not None and content.get("status") == "ok":
            failed = " (the notebook replaced how the kernel publishes outputs)"
        return _tampered(run, f"the probe's report did not arrive although the kernel was running{failed}")
    run.status = "error"
    run.messages.append(message)
    run.facts = Facts(warnings=[message])


def _read_checkpoint(run: Run) -> str | None:
    checkpoint = run.folder.checkpoint
    try:
        if checkpoint.stat().st_size > 0:
            with checkpoint.open("rb") as stream:  # a kernel could grow the file: read what may count
                return stream.read(MAX_FACTS_READ).decode("utf-8", errors="replace")
    except OSError:
        pass
    return None


def _tampered(run: Run, detail: str) -> None:
    """The recorders were not the grader's own: no fact of this run counts."""
    message = f"{TAMPERED}: {detail}; the run's facts were discarded, so its code checks fail"[:2000]
    run.tampered = True
    run.status = "error"
    run.messages.append(message)
    run.facts = Facts(warnings=[message[:500]])
