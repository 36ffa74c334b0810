"""Files: the assignment's data files (``files:`` in assignment.yaml) found where students said.

The runner stages each file read-only in the working folder under its own name. Students wrote
the path of their own machine: ``/content/wine.csv`` (Colab), ``/content/drive/MyDrive/hw/wine.csv``,
``C:\\Users\\me\\wine.csv``, ``./data/wine.csv``. A read of a path that does not exist whose file
name is a staged file's reads the staged copy instead, with a note; so does ``os.path.exists`` /
``isfile`` for such a path. Only reads: a write goes where the student said (and fails as it would).
The original ``open`` is tried first, so nothing changes for paths that exist.
Kernel-side code (see ``common.py``)."""

import builtins
import io
import ntpath
import os
import posixpath


class _Files:
    """Maps the paths students used for the assignment's files to the staged copies."""

    def __init__(self, probe, staged):
        self.probe = probe
        self.staged = dict(staged or {})  # file name -> staged path

    def install(self):
        if not self.staged:
            return
        opener = self._open(builtins.open)
        self.probe.integrity.remember(builtins, "open", opener)
        if io.open is not opener:
            self.probe.integrity.remember(io, "open", opener)
        for name in ("exists", "isfile"):
            self.probe.integrity.remember(posixpath, name, self._exists(getattr(posixpath, name)))

    def staged_for(self, path):
        """The staged copy ``path`` stands for, or None."""
        try:
            text = os.fspath(path)
        except TypeError:
            return None
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        name = ntpath.basename(text) if "\\" in text else posixpath.basename(text)
        found = self.staged.get(name)
        return found if found is not None and text != found else None

    def _open(self, original):
        files = self

        def open(file, mode="r", *args, **kwargs):
            __tracebackhide__ = True
            try:
                return original(file, mode, *args, **kwargs)
            except FileNotFoundError:
                staged = files.staged_for(file) if isinstance(mode, str) and not set(mode) & set("wax+") else None
                if staged is None:
                    raise
            files.probe.compat.note(
                f"{os.fspath(file)} was read from the staged {os.path.basename(staged)} (files: in assignment.yaml)"
            )
            return original(staged, mode, *args, **kwargs)

        open.__wrapped__ = original
        return open

    def _exists(self, original):
        files = self

        def exists(path):
            if original(path):
                return True
            staged = files.staged_for(path)
            return staged is not None and original(staged)

        exists.__name__ = exists.__qualname__ = original.__name__
        return exists
