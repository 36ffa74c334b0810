"""Output guards: each output message leaves the kernel small.

A large write to stdout/stderr is sent in flushed pieces of ``STREAM_CHUNK`` characters, and a
display or result whose data is over ``rich_size`` bytes loses that data, with a marker. The
grader cuts outputs to its own limits as they arrive; these guards only keep each message small
(the grader's sockets refuse huge ones). Kernel-side code (see ``common.py``)."""

import functools
import json
import sys

from grader.execute.probe.common import FACTS_MIME

STREAM_CHUNK = 262_144  # characters: a larger write to stdout/stderr is sent in pieces
TRUNCATED = "[output truncated by the grader: {count:,} bytes]"


def _guard_outputs(chunk, rich_size):
    """Keeps each output message small: what stdout/stderr buffered goes out in messages of at most
    ``chunk`` characters (ipykernel's ``OutStream._flush_buffers``, patched on the class: IPython
    swaps the instances' own ``write`` around each cell), and display data over ``rich_size``
    bytes is replaced by a marker."""
    if chunk:
        for cls in {type(sys.stdout), type(sys.stderr)}:
            if cls.__module__.startswith("ipykernel") and "_flush_buffers" in vars(cls):
                cls._flush_buffers = _chunked_buffers(cls._flush_buffers, int(chunk))
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    history = getattr(shell, "history_manager", None)
    if isinstance(getattr(history, "outputs", None), dict):
        history.outputs = _NoOutputs()  # IPython would keep a copy of everything printed
    if not rich_size or shell is None:
        return
    publisher, hook = getattr(shell, "display_pub", None), getattr(shell, "displayhook", None)
    if publisher is not None and hasattr(publisher, "publish"):
        publish = publisher.publish

        def guarded_publish(data, *args, **kwargs):
            return publish(_shrink(data, rich_size), *args, **kwargs)

        publisher.publish = guarded_publish
    if hook is not None and hasattr(hook, "write_format_data"):
        write_format_data = hook.write_format_data

        def guarded_format_data(format_dict, *args, **kwargs):
            return write_format_data(_shrink(format_dict, rich_size), *args, **kwargs)

        hook.write_format_data = guarded_format_data


class _NoOutputs(dict):
    """IPython's record of each cell's outputs, kept empty: the grader has its own."""

    def __missing__(self, key):
        return []


def _chunked_buffers(original, chunk):
    def _flush_buffers(stream):
        for parent, data in original(stream):
            if not isinstance(data, str) or len(data) <= chunk:
                yield parent, data
                continue
            for start in range(0, len(data), chunk):
                yield parent, data[start : start + chunk]

    functools.update_wrapper(_flush_buffers, original)
    return _flush_buffers


def _shrink(data, limit):
    """``data`` (a MIME bundle) without the values over ``limit`` bytes, with a marker instead."""
    if not isinstance(data, dict):
        return data
    kept, dropped = {}, 0
    for mime, value in data.items():
        try:
            size = len(value) if isinstance(value, (str, bytes)) else len(json.dumps(value, default=str))
        except Exception:
            size = 0
        if size > limit and mime != FACTS_MIME:
            dropped += size
        else:
            kept[mime] = value
    if not dropped:
        return data
    plain = kept.get("text/plain") if isinstance(kept.get("text/plain"), str) else ""
    kept["text/plain"] = (plain + "\n" if plain else "") + TRUNCATED.format(count=dropped)
    return kept
