"""The error the ingest stage raises when the grader cannot start on the given inputs."""

from __future__ import annotations


class InputError(ValueError):
    """A path or a roster the instructor named cannot be used; the message says which and why."""
