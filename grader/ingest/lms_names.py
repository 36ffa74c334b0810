"""Who handed a file in, from the name an LMS bulk download gives it (pure: no I/O).

Canvas:  ``doejane_LATE_12345_67890_Regularization-1.ipynb``
         login part (the sortable name squashed), optional LATE, user id, submission
         (attachment) id, the student's own file name; Canvas appends ``-1``, ``-2`` to
         that name for resubmissions.
Moodle:  ``Jane Doe_1234_assignsubmission_file_/homework.ipynb`` (a folder per student) or
         ``Jane Doe_1234_assignsubmission_file_homework.ipynb`` (flattened).
Plain:   ``jdoe.ipynb``: the file name is the student.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

CANVAS = re.compile(
    r"^(?P<login>[^_]+)_(?:(?P<late>LATE)_)?(?P<user>\d+)_(?P<submission>\d+)_(?P<original>.+)$", re.IGNORECASE
)
MOODLE_FOLDER = re.compile(r"^(?P<name>.+?)_(?P<user>\d+)_assignsubmission_file_$")
MOODLE_FLAT = re.compile(r"^(?P<name>.+?)_(?P<user>\d+)_assignsubmission_file_(?P<original>.+)$")
RESUBMISSION = re.compile(r"^(?P<stem>.+)-(?P<n>\d+)$")
MOODLE_BLIND = "participant"


@dataclass(frozen=True)
class NameInfo:
    """What a submission's file name says about who sent it."""

    lms: Literal["canvas", "moodle", "plain"]
    user_id: str = ""  # the LMS's user id (Moodle: participant id when marking is blind)
    login: str = ""  # Canvas: the login part of the name; plain: the file's stem
    name: str = ""  # Moodle: the student's full name
    late: bool = False
    submission_id: str = ""  # Canvas: grows with each upload
    resubmission: int = 0  # Canvas: the -N suffix on the student's file name
    original: str = ""  # the student's own file name
    folder: str = ""  # plain: the folders above the file, inside the folder or archive given


def parse_name(relative_path: str) -> NameInfo:
    """Read a submission's path (``/``-separated, relative to the folder or archive it came from)."""
    parts = [part for part in relative_path.replace("\\", "/").split("/") if part]
    if not parts:
        return NameInfo("plain")
    filename, folders = parts[-1], parts[:-1]
    for folder in reversed(folders):
        if match := MOODLE_FOLDER.match(folder):
            return _moodle(match["name"], match["user"], filename)
    if match := MOODLE_FLAT.match(filename):
        return _moodle(match["name"], match["user"], match["original"])
    if match := CANVAS.match(filename):
        original, resubmission = _resubmission(match["original"])
        return NameInfo(
            "canvas",
            user_id=match["user"],
            login=match["login"],
            late=match["late"] is not None,
            submission_id=match["submission"],
            resubmission=resubmission,
            original=original,
        )
    return NameInfo("plain", login=PurePosixPath(filename).stem, original=filename, folder="/".join(folders))


def _moodle(name: str, user: str, original: str) -> NameInfo:
    name = name.strip()
    if name.casefold() == MOODLE_BLIND:  # blind marking hides the name
        name = ""
    return NameInfo("moodle", user_id=user, name=name, original=original)


def _resubmission(original: str) -> tuple[str, int]:
    """``Regularization-2.ipynb`` -> (``Regularization.ipynb``, 2)."""
    path = PurePosixPath(original)
    if match := RESUBMISSION.match(path.stem):
        return match["stem"] + path.suffix, int(match["n"])
    return original, 0
