"""Finding submissions among the paths an instructor names: notebooks, folders and LMS zips.

``read_intake`` finds every notebook, works out who sent it (LMS file names, the roster),
keeps the newest file per student and says why everything else was left out.
"""

from __future__ import annotations

import os
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path, PurePosixPath

from grader.ingest.archives import ARCHIVE_SUFFIXES, ArchiveLimits, notebook_entry, read_zip
from grader.ingest.errors import InputError
from grader.ingest.lms_names import NameInfo, parse_name
from grader.ingest.notebooks import read_submission, read_submission_bytes, safe_id
from grader.ingest.roster import Roster
from grader.models import Student, Submission

__all__ = ["Intake", "InputError", "read_intake", "read_submissions"]


@dataclass(frozen=True)
class Intake:
    """What ingest hands on: one Submission per student, and every file left out with the reason."""

    submissions: list[Submission]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)
    missing: list[Student] = field(default_factory=list)  # on the roster, but no notebook found
    # Zip entries (or whole zips) that may be notebooks but were not read as unsafe or over a
    # limit: error rows of their own, so that the grades and the reports list them.
    refused: list[Submission] = field(default_factory=list)


@dataclass(frozen=True)
class _Found:
    """A notebook file found on disk (``path``) or in an archive (``data``), before it is parsed."""

    source: str
    relative: str  # inside the folder or archive it came from; what the LMS naming is read from
    modified: datetime
    order: int
    path: Path | None = None
    data: bytes | None = None


@dataclass
class _Group:
    """The files from one student; the newest is graded."""

    files: list[tuple[_Found, NameInfo]]
    student: Student | None
    notes: list[str]


def read_submissions(paths: list[Path], roster: Roster | None = None) -> list[Submission]:
    """One Submission per student (see ``read_intake``, which also says what was skipped)."""
    return read_intake(paths, roster).submissions


def read_intake(paths: list[Path], roster: Roster | None = None, limits: ArchiveLimits = ArchiveLimits()) -> Intake:
    """Read notebooks, folders and LMS zips into one Submission per student.

    Several files from one student: the newest is graded (Canvas: the higher submission id,
    then the resubmission number; otherwise the newest modification time) and the others are
    noted. Students the roster does not know are kept, with a note. Raises InputError only for
    a path that does not exist.
    """
    found, skipped, refused = _find(paths, limits)
    groups: dict[tuple, _Group] = {}
    for item in found:
        info = parse_name(item.relative)
        student, note = roster.match(info) if roster else (None, "")
        key = ("roster", student) if student else _file_key(info)
        group = groups.setdefault(key, _Group([], student, []))
        group.files.append((item, info))
        if note and note not in group.notes:
            group.notes.append(note)

    ids = _assign_ids(list(groups.values()))
    submissions = []
    for group in groups.values():
        submission, older = _submission(group, ids[id(group)], roster)
        submissions.append(submission)
        reason = f"an older file from {submission.student}; {submission.source} is graded"
        skipped.extend((item.source, reason) for item in older)
    matched = {group.student for group in groups.values() if group.student}
    missing = [student for student in roster.students if student not in matched] if roster else []
    taken = {submission.student.casefold() for submission in submissions}
    unread = [_refused_row(source, entry, reason, taken) for source, entry, reason in refused]
    return Intake(sorted(submissions, key=lambda s: s.student.casefold()), skipped, missing, unread)


def _refused_row(source: str, entry: str, reason: str, taken: set[str]) -> Submission:
    """An error row for a zip entry (or a zip) that was not read, under an id no one else has."""
    if entry:
        base = safe_id(PurePosixPath(entry.replace("\\", "/")).stem, "unsafe_entry")
        error = f"not graded: the zip entry {entry!r} was not read: {reason}; ask for the notebook again"
    else:
        base = safe_id(Path(source).stem, "archive")
        error = f"not graded: nothing was read from {Path(source).name}: {reason}"
    student, n = base, 2
    while student.casefold() in taken:
        student, n = f"{base}-{n}", n + 1
    taken.add(student.casefold())
    return Submission(student, source, "", None, error)


def _find(
    paths: list[Path], limits: ArchiveLimits
) -> tuple[list[_Found], list[tuple[str, str]], list[tuple[str, str, str]]]:
    found: list[_Found] = []
    skipped: list[tuple[str, str]] = []
    refused: list[tuple[str, str, str]] = []  # (source, entry name or "", reason)
    seen: set[Path] = set()

    def add(item_path: Path, relative: str) -> None:
        resolved = item_path.resolve()
        if resolved not in seen:
            seen.add(resolved)
            found.append(_Found(str(item_path), relative, _mtime(item_path), len(found), path=item_path))

    for path in paths:
        if path.is_dir():
            for file, relative in _walk(path):
                if file.is_symlink():
                    skipped.append((str(file), "a symbolic link; links inside folders are not followed"))
                elif file.suffix.lower() in ARCHIVE_SUFFIXES:
                    reason = "an archive inside a folder is not opened; pass it to the grader directly"
                    skipped.append((str(file), reason))
                elif reason := notebook_entry(relative):
                    skipped.append((str(file), reason))
                else:
                    add(file, relative)
        elif path.is_file() and _is_zip(path):
            contents = read_zip(path, limits)
            for member in contents.members:
                source = f"{path}!{member.name}"
                found.append(_Found(source, member.name, member.modified, len(found), data=member.data))
            skipped.extend((f"{path}!{name}" if name else str(path), reason) for name, reason in contents.skipped)
            refused.extend((f"{path}!{name}" if name else str(path), name, reason) for name, reason in contents.refused)
        elif path.is_file():
            add(path, path.name)
        else:
            raise InputError(f"{path}: no such file or folder")
    return found, skipped, refused


def _walk(folder: Path):
    """Files under ``folder``; symlinked folders are not entered, hidden ones (.git, .ipynb_checkpoints) left out."""
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            file = Path(root, name)
            yield file, file.relative_to(folder).as_posix()


def _is_zip(path: Path) -> bool:
    if path.suffix.lower() == ".zip":
        return True
    if path.suffix.lower() == ".ipynb":
        return False
    try:
        return zipfile.is_zipfile(path)
    except OSError:
        return False


def _mtime(path: Path) -> datetime:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime)
    except (OSError, ValueError):
        return datetime(1980, 1, 1)


def _file_key(info: NameInfo) -> tuple:
    """Which files belong to the same student when the roster does not say."""
    if info.lms in ("canvas", "moodle"):
        return info.lms, info.user_id
    # A plain name is the student only within its folder: alice/homework.ipynb and
    # bob/homework.ipynb are two students; jdoe.ipynb in two downloads is one.
    return "plain", info.folder.casefold(), info.login.casefold()


def _newest_first(files: list[tuple[_Found, NameInfo]]) -> list[tuple[_Found, NameInfo]]:
    if all(info.lms == "canvas" for _, info in files):
        return sorted(
            files, key=lambda f: (int(f[1].submission_id), f[1].resubmission, f[0].modified, f[0].order), reverse=True
        )
    return sorted(files, key=lambda f: (f[0].modified, f[0].order), reverse=True)


def _preferred_id(group: _Group) -> str:
    """The roster's SIS login, else the Canvas login part, else the roster id, else the name on the file."""
    info = _newest_first(group.files)[0][1]
    if group.student and group.student.login_id:
        return safe_id(group.student.login_id)
    if info.lms == "canvas":
        return safe_id(info.login)
    if group.student:
        return safe_id(group.student.id)
    if info.lms == "moodle":
        return safe_id(info.name or f"participant_{info.user_id}")
    return safe_id(info.login)


def _assign_ids(groups: list[_Group]) -> dict[int, str]:
    """Unique ids (compared without case: reports are files) that do not depend on the order files came in."""
    preferred = {id(group): _preferred_id(group) for group in groups}
    counts = defaultdict(int)
    for value in preferred.values():
        counts[value.casefold()] += 1
    ids, taken = {}, set()
    for group in sorted(groups, key=lambda g: (preferred[id(g)].casefold(), _newest_first(g.files)[0][0].source)):
        candidate = preferred[id(group)]
        if counts[candidate.casefold()] > 1:
            candidate = _longer_id(group, candidate)
        unique, n = candidate, 2
        while unique.casefold() in taken:
            unique, n = f"{candidate}-{n}", n + 1
        taken.add(unique.casefold())
        ids[id(group)] = unique
    return ids


def _longer_id(group: _Group, base: str) -> str:
    """For two students who would get the same id: add the LMS user id, or the folder of a plain file."""
    info = _newest_first(group.files)[0][1]
    user_id = info.user_id or (group.student.lms_user_id if group.student else "")
    if user_id:
        return safe_id(f"{base}_{user_id}")
    if info.folder:
        return safe_id(f"{info.folder}_{base}")
    return base


def _submission(group: _Group, student_id: str, roster: Roster | None) -> tuple[Submission, list[_Found]]:
    ordered = _newest_first(group.files)
    (newest, info), older = ordered[0], [item for item, _ in ordered[1:]]
    if group.student:
        identity = replace(group.student, id=student_id, lms_user_id=group.student.lms_user_id or info.user_id)
    else:
        identity = Student(id=student_id, name=info.name, lms_user_id=info.user_id)
    notes = list(group.notes)
    if roster and not group.student:
        notes.append(f"not on the roster ({roster.source}); kept, check who this is")
    if info.late:
        notes.append("Canvas marked this file LATE")
    if older:
        several = len(older) > 1
        count = f"{len(older)} older file{'s' if several else ''} from this student {'were' if several else 'was'}"
        notes.append(f"{count} ignored: " + ", ".join(item.source for item in older))
    details = {"identity": identity, "late": info.late, "notes": tuple(notes)}
    if newest.data is not None:
        return read_submission_bytes(newest.data, newest.source, student_id, **details), older
    submission = read_submission(newest.path, student_id)
    return replace(submission, **details | {"notes": (*details["notes"], *submission.notes)}), older
