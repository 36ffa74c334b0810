"""The class roster: who is enrolled, so submissions get names, SIS ids and emails.

Two CSV forms, told apart by the header:

- a Canvas gradebook export: ``Student,ID,SIS User ID,SIS Login ID,Section,...`` (the row
  ``Points Possible`` under the header is skipped);
- a simple list: ``id,name,email`` (also ``first name``/``last name``, ``email address``,
  ``id number``, as Moodle writes them).

Headers are matched without regard to case, spaces, underscores or a byte-order mark.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from grader.ingest.errors import InputError
from grader.ingest.lms_names import NameInfo
from grader.models import Student

SIMPLE_COLUMNS = {
    "id": ("id", "student id", "user id", "username", "login", "id number", "student number"),
    "name": ("name", "full name", "student name", "student"),
    "first": ("first name", "given name"),
    "last": ("last name", "surname", "family name"),
    "email": ("email", "email address", "e mail", "mail"),
    "section": ("section", "group"),
}
CANVAS_NOT_A_STUDENT = {"points possible", "student, test", "test student"}


class RosterError(InputError):
    """The roster file cannot be used; the message names the file and the line."""


@dataclass(frozen=True)
class Roster:
    """The enrolled students, indexed by each key a file name may carry."""

    source: str
    kind: Literal["canvas", "simple"]
    students: tuple[Student, ...]
    by_lms_id: dict[str, Student] = field(default_factory=dict)
    by_sis_id: dict[str, Student] = field(default_factory=dict)
    by_login: dict[str, Student] = field(default_factory=dict)  # casefolded
    by_email: dict[str, Student] = field(default_factory=dict)  # casefolded; also the part before @
    by_name: dict[str, tuple[Student, ...]] = field(default_factory=dict)  # name_keys(); clashes kept

    def match(self, info: NameInfo) -> tuple[Student | None, str]:
        """The roster student a file name points to, and a note when the match is doubtful ("" otherwise)."""
        if info.lms == "canvas":
            if found := self.by_lms_id.get(info.user_id):
                return found, _name_mismatch(found, info.login, info.user_id)
            return self._by_name(info.login, info.user_id) or self._by_key(info.login) or (None, "")
        if info.lms == "moodle":
            if info.name:
                found, note = self._by_name(info.name, info.user_id) or (None, "")
                if found or note:
                    return found, note
            found = self.by_lms_id.get(info.user_id)
            return found, _name_mismatch(found, info.name, info.user_id) if found else ""
        return self._by_key(info.login) or self._by_name(info.login, "") or (None, "")

    def _by_key(self, key: str) -> tuple[Student, str] | None:
        key = key.strip().casefold()
        for index in (self.by_login, self.by_sis_id, self.by_lms_id, self.by_email):
            if key and (found := index.get(key)):
                return found, ""
        return None

    def _by_name(self, name: str, user_id: str) -> tuple[Student | None, str] | None:
        candidates = {s for key in name_keys(name) for s in self.by_name.get(key, ())}
        if user_id:  # a roster entry with a different LMS id is someone else with the same name
            candidates = {s for s in candidates if not s.lms_user_id or s.lms_user_id == user_id}
        if len(candidates) == 1:
            return candidates.pop(), ""
        if len(candidates) > 1:
            names = "; ".join(sorted(s.name for s in candidates))
            return None, f"several roster students could be {name!r} ({names}); not matched"
        return None


def _name_mismatch(student: Student, file_name: str, user_id: str) -> str:
    """A note when a file matched a roster entry by id but the names plainly differ."""
    if not file_name or not student.name or name_keys(file_name) & name_keys(student.name):
        return ""
    return f"matched to roster entry {student.name!r} by id {user_id}, but the file name says {file_name!r}: check"


def normalise_name(text: str) -> str:
    """``Doe, Jane`` -> ``doejane``: ASCII letters and digits only, lower case."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]", "", ascii_text.casefold())


def name_keys(name: str) -> set[str]:
    """The forms a name takes in file names: ``Doe, Jane`` and ``Jane Doe`` both give doejane and janedoe."""
    if "," in name:
        last, _, first = name.partition(",")
        words = first.split() + last.split()
        split_at = len(first.split())
    else:
        words = name.replace("_", " ").split()
        split_at = len(words) - 1
    keys = {normalise_name("".join(words))}
    if 0 < split_at < len(words):
        keys.add(normalise_name("".join(words[split_at:] + words[:split_at])))
    keys.discard("")
    return keys


def read_roster(path: Path) -> Roster:
    """Read a Canvas gradebook export or an ``id,name,email`` CSV; RosterError names the file and line."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RosterError(f"{path}: cannot read the roster ({exc.strerror})") from None
    text = _decode(raw, path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise RosterError(f"{path}: line {reader.line_num}: not a readable CSV ({exc})") from None
    if not rows:
        raise RosterError(f"{path}: the roster is empty; expected a header line such as id,name,email")
    header, body = [_header_key(cell) for cell in rows[0][1]], rows[1:]
    if "student" in header and "id" in header and ("sis user id" in header or "sis login id" in header):
        return _index(str(path), "canvas", _canvas_students(path, header, body))
    return _index(str(path), "simple", _simple_students(path, header, body))


def _decode(raw: bytes, path: Path) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise RosterError(f"{path}: not a text CSV file (byte {exc.start}); save it as CSV UTF-8") from None


def _delimiter(text: str) -> str:
    """Comma, unless the header line uses semicolons or tabs more (Excel in some locales)."""
    head = text.split("\n", 1)[0]
    return max((",", ";", "\t"), key=lambda d: (head.count(d), d == ","))


def _header_key(cell: str) -> str:
    return re.sub(r"[\s_\-]+", " ", cell.replace("\ufeff", "")).strip().casefold()


def _canvas_students(path: Path, header: list[str], body: list[tuple[int, list[str]]]) -> list[tuple[int, Student]]:
    column = {name: header.index(name) for name in header[::-1]}  # first occurrence wins

    def cell(row: list[str], name: str) -> str:
        at = column.get(name)
        return row[at].strip() if at is not None and at < len(row) else ""

    students = []
    for line, row in body:
        name = cell(row, "student")
        if name.casefold() in CANVAS_NOT_A_STUDENT or (not name and not cell(row, "id")):
            continue
        lms_id, sis_id, login = cell(row, "id"), cell(row, "sis user id"), cell(row, "sis login id")
        if not (lms_id or sis_id or login):
            raise RosterError(f"{path}: line {line}: {name!r} has no ID, SIS User ID or SIS Login ID")
        student = Student(
            id=login or sis_id or f"user{lms_id}",
            name=name,
            email=login if "@" in login else "",
            lms_user_id=lms_id,
            sis_id=sis_id,
            login_id=login,
            section=cell(row, "section"),
        )
        students.append((line, student))
    return students


def _simple_students(path: Path, header: list[str], body: list[tuple[int, list[str]]]) -> list[tuple[int, Student]]:
    column = {}
    for role, aliases in SIMPLE_COLUMNS.items():
        column[role] = next((header.index(alias) for alias in aliases if alias in header), None)
    if column["id"] is None and column["email"] is None:
        found = ", ".join(cell for cell in header if cell) or "nothing"
        raise RosterError(
            f"{path}: line 1: no id or email column (found: {found}); expected a Canvas gradebook export "
            "(Student, ID, SIS User ID, SIS Login ID, Section, ...) or a CSV with the columns id,name,email"
        )

    def cell(row: list[str], role: str) -> str:
        at = column[role]
        return row[at].strip() if at is not None and at < len(row) else ""

    moodle_id_number = column["id"] is not None and header[column["id"]] == "id number"  # Moodle's own roster
    students = []
    for line, row in body:
        name = cell(row, "name") or " ".join(part for part in (cell(row, "first"), cell(row, "last")) if part)
        student_id, email = cell(row, "id"), cell(row, "email")
        if not (student_id or email):
            raise RosterError(f"{path}: line {line}: {name or 'this row'!r} has neither an id nor an email")
        sis_id = student_id if moodle_id_number else ""
        student = Student(id=student_id or email, name=name, email=email, sis_id=sis_id, section=cell(row, "section"))
        students.append((line, student))
    return students


def _index(source: str, kind: Literal["canvas", "simple"], numbered: list[tuple[int, Student]]) -> Roster:
    roster = Roster(source, kind, tuple(student for _, student in numbered))
    seen: dict[tuple[str, str], int] = {}
    by_name: dict[str, list[Student]] = {}
    email_locals: dict[str, list[Student]] = {}
    for line, student in numbered:
        keys = [
            ("ID", student.lms_user_id, [roster.by_lms_id]),
            ("SIS User ID", student.sis_id, [roster.by_sis_id]),
            ("SIS Login ID", student.login_id.casefold(), [roster.by_login]),
            ("email", student.email.casefold(), [roster.by_email]),
        ]
        if kind == "simple":  # the id column holds whatever id the instructor uses: look it up as any of them
            keys.append(("id", student.id.casefold(), [roster.by_login, roster.by_sis_id, roster.by_lms_id]))
        for label, key, indexes in keys:
            if not key:
                continue
            if (label, key) in seen:
                raise RosterError(f"{source}: line {line}: {label} {key!r} is also on line {seen[label, key]}")
            seen[label, key] = line
            for index in indexes:
                index.setdefault(key, student)
        if "@" in student.email:
            email_locals.setdefault(student.email.casefold().partition("@")[0], []).append(student)
        for key in name_keys(student.name):
            by_name.setdefault(key, []).append(student)
    for local, found in email_locals.items():
        if len(found) == 1:  # jdoe.ipynb is jdoe@school.edu, unless two students share the part before @
            roster.by_email.setdefault(local, found[0])
    roster.by_name.update({key: tuple(found) for key, found in by_name.items()})
    return roster
