"""The recorders' integrity: what the probe installed, checked at every cell boundary, and the
post-import hook that installs the recorders when the notebook imports a framework.

Kernel-side code (see ``common.py``)."""

import os
import sys

from grader.execute.probe.common import MAX_TAMPERING, TAMPERED, _text


class _Integrity:
    """Remembers every function the probe put in place, and says what is no longer there."""

    def __init__(self, probe):
        self.probe = probe
        self.finder = None  # the import hook (install)
        self.installed = []  # (owner, attribute, the grader's function, its code, what it closes over): checked by verify
        self.hook_sets = []  # (module, name of its dict of global hooks, the grader's hook)
        self.tampering = []  # what verify found, first in the warnings
        self.student_roots = [
            os.path.realpath(path) + os.sep
            for path in (os.getcwd(), os.environ.get("HOME"), os.environ.get("TMPDIR"), "/dev/shm")
            if path
        ]  # fmt: skip

    def remember(self, owner, attribute, function):
        """Installs ``function`` as ``owner.attribute`` and remembers it for ``verify``."""
        setattr(owner, attribute, function)
        self.installed.append((owner, attribute, function, getattr(function, "__code__", None), _captured(function)))

    def verify(self):
        """What of the probe's recorders is no longer in place: a list of problems (empty: all is)."""
        problems = []
        if sys.__dict__.get(self.probe.attribute) is not self.probe:
            problems.append("the probe was removed from sys")
        for owner, attribute, function, code, captured in self.installed:
            current = vars(owner).get(attribute)
            where = f"{owner.__module__}.{owner.__qualname__}" if isinstance(owner, type) else owner.__name__
            if current is not function or getattr(function, "__code__", None) is not code:
                problems.append(f"{where}.{attribute} is no longer the grader's recorder")
            elif not _same_captures(_captured(function), captured):
                problems.append(
                    f"the original {where}.{attribute} inside the grader's recorder was swapped or its code replaced"
                )
        for module, name, hook in self.hook_sets:
            registered = getattr(module, name, None)
            if not hasattr(registered, "values") or not any(item is hook for item in registered.values()):
                problems.append(f"the grader's hook was removed from {module.__name__}.{name}")
        if self.probe.hooks and self.finder not in sys.meta_path:
            problems.append("the grader's import hook was removed from sys.meta_path")
        return problems

    def tamper(self, problem, when=None):
        """Records a problem with the recorders once, with when it was first seen."""
        if len(self.tampering) < MAX_TAMPERING and not any(f"{TAMPERED}: {problem}" in seen for seen in self.tampering):
            self.tampering.append(_text(f"{TAMPERED}: {problem}" + (f" ({when})" if when else ""), 500))

    def foreign(self, origin):
        """Whether a module file is the notebook's own (in its working, home or temporary folder)."""
        if not origin or not isinstance(origin, str) or not os.path.isabs(origin):
            return False
        path = os.path.realpath(origin)
        return any(path.startswith(root) for root in self.student_roots)


def _captured(function):
    """What a recorder closes over (the original it calls among them), each with its code object."""
    found = []
    for cell in getattr(function, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            value = None
        found.append((value, getattr(value, "__code__", None)))
    return tuple(found)


def _same_captures(now, then):
    return len(now) == len(then) and all(a is b and c is d for (a, c), (b, d) in zip(now, then))


class _PostImportFinder:
    """Finds nothing itself: wraps the real loader of a few modules to patch them once loaded.

    A module of those names that comes from the notebook's own folders (its working folder, home
    or temporary folder) is not the framework: it is not patched, and the probe says so."""

    def __init__(self, probe):
        self.probe = probe
        self.hooks = probe.hooks

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.hooks:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            try:
                spec = finder.find_spec(fullname, path, target)
            except Exception:
                continue
            if spec is not None:
                break
        else:
            return None
        if self.probe.integrity.foreign(spec.origin):
            self.hooks.pop(fullname, None)
            self.probe.integrity.tamper(
                f"a module named {fullname} was loaded from the notebook's own folder ({spec.origin})"
            )
            return spec
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        hooks = self.hooks
        original = loader.exec_module

        def exec_module(module):
            original(module)
            if getattr(module, "__name__", None) == fullname and fullname in hooks:
                try:
                    del loader.exec_module
                except AttributeError:
                    pass
                hooks.pop(fullname)(module)

        try:
            loader.exec_module = exec_module
        except (AttributeError, TypeError):
            return spec
        return spec
