"""Reading notebooks out of an LMS bulk-download zip without trusting it.

Members are read into memory, never extracted, so an entry's name never becomes a path on
disk. Even so, entries with unsafe names (``..``, absolute paths, drive letters, backslashes),
symlinks, nested archives and files that are not notebooks are skipped with a reason, and the
limits below bound what a hostile zip (a zip bomb, or a zip with a huge directory) can cost.
"""

from __future__ import annotations

import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

MiB = 1024 * 1024
GiB = 1024 * MiB
CHUNK = 1 * MiB
RATIO_CHECKED_ABOVE = 1 * MiB  # small members cannot hurt, whatever their ratio
ARCHIVE_SUFFIXES = {".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar"}
DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class ArchiveLimits:
    """What one archive may cost; members over a limit are skipped, not read."""

    max_entries: int = 5_000
    max_total_bytes: int = 2 * GiB  # the notebooks' uncompressed sizes, together
    max_file_bytes: int = 100 * MiB  # one notebook, uncompressed
    max_ratio: float = 200.0  # uncompressed / compressed size of one member


@dataclass(frozen=True)
class Member:
    """A notebook read from an archive: its entry name, its bytes, the date the zip gives it."""

    name: str
    data: bytes
    modified: datetime


@dataclass(frozen=True)
class ArchiveContents:
    members: list[Member] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (entry name or "", reason)
    # The skipped entries that may be a student's notebook, left unread as unsafe or over a limit
    # (and the archive itself, as "", when nothing could be read): the grades must show them.
    refused: list[tuple[str, str]] = field(default_factory=list)

    def refuse(self, name: str, reason: str) -> None:
        self.skipped.append((name, reason))
        if not name or PurePosixPath(name.replace("\\", "/")).suffix.lower() == ".ipynb":
            self.refused.append((name, reason))


def notebook_entry(name: str) -> str | None:
    """Why an entry (with a safe name) is not a notebook to grade, or None when it is one."""
    path = PurePosixPath(name)
    if "__MACOSX" in path.parts or path.name.startswith("._") or path.name == ".DS_Store":
        return "macOS metadata, not a submission"
    if ".ipynb_checkpoints" in path.parts:
        return "a Jupyter checkpoint copy, not the submitted notebook"
    suffix = path.suffix.lower()
    if suffix in ARCHIVE_SUFFIXES:
        return "an archive inside the archive is not opened; extract it and pass its contents to the grader"
    if suffix != ".ipynb":
        return f"not a notebook ({suffix or 'no extension'})"
    return None


def unsafe_name(name: str) -> str | None:
    """Why an entry name could not be trusted as a relative path, or None."""
    if "\\" in name:
        return "unsafe name (backslash in the path)"
    if "\x00" in name:
        return "unsafe name (NUL character)"
    if name.startswith("/"):
        return "unsafe name (absolute path)"
    if DRIVE.match(name):
        return "unsafe name (drive letter)"
    if ".." in name.split("/"):
        return "unsafe name (.. in the path)"
    return None


def read_zip(
    path: Path,
    limits: ArchiveLimits = ArchiveLimits(),
    select: Callable[[str], str | None] = notebook_entry,
) -> ArchiveContents:
    """The selected members of the zip at ``path``, and every other entry with the reason it was skipped.

    An archive that cannot be read at all, or that breaks the entry-count or total-size limit,
    comes back with no members and one skipped item naming the archive (entry name "").
    """
    contents = ArchiveContents()
    declared_entries = _declared_entry_count(path)
    if declared_entries is not None and declared_entries > limits.max_entries:
        contents.refuse("", _too_many(declared_entries, limits))
        return contents
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        contents.refuse("", f"not a readable zip file ({exc})")
        return contents
    with archive:
        entries = archive.infolist()
        if len(entries) > limits.max_entries:
            contents.refuse("", _too_many(len(entries), limits))
            return contents
        wanted = []
        for info in entries:
            if info.is_dir():
                continue
            if problem := _entry_problem(info, limits):
                contents.refuse(info.filename, problem)
            elif reason := select(info.filename):
                contents.skipped.append((info.filename, reason))
            else:
                wanted.append(info)
        declared_total = sum(info.file_size for info in wanted)
        if declared_total > limits.max_total_bytes:
            reason = (
                f"its notebooks declare {declared_total:,} bytes in total, over the "
                f"{limits.max_total_bytes:,}-byte limit for one archive; nothing was read from it"
            )
            contents.refuse("", reason)
            return contents
        budget = limits.max_total_bytes
        for info in wanted:
            data, reason = _read_member(archive, info, min(limits.max_file_bytes, budget))
            if reason:
                contents.refuse(info.filename, reason)
                continue
            budget -= len(data)
            contents.members.append(Member(info.filename, data, _modified(info)))
    return contents


def _too_many(count: int, limits: ArchiveLimits) -> str:
    return f"the archive has {count:,} entries, over the {limits.max_entries:,} limit; nothing was read from it"


def _entry_problem(info: zipfile.ZipInfo, limits: ArchiveLimits) -> str | None:
    """Name, type and declared-size checks, before a byte of the member is read."""
    if reason := unsafe_name(info.filename):
        return reason
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "a symbolic link; links are not followed"
    if info.flag_bits & 0x1:
        return "encrypted; the grader cannot read it"
    if info.file_size > limits.max_file_bytes:
        return f"declares {info.file_size:,} bytes, over the {limits.max_file_bytes:,}-byte limit for one notebook"
    if info.file_size > RATIO_CHECKED_ABOVE:
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.max_ratio:
            return (
                f"compressed {ratio:,.0f} to 1 ({info.compress_size:,} bytes expanding to {info.file_size:,}), "
                f"over the {limits.max_ratio:g}:1 limit; looks like a zip bomb"
            )
    return None


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> tuple[bytes, str | None]:
    """Read one member in chunks, stopping as soon as it holds more than it declared or the limit allows."""
    cap = min(info.file_size, limit)
    chunks, total = [], 0
    try:
        with archive.open(info) as member:
            while chunk := member.read(min(CHUNK, cap + 1 - total)):
                total += len(chunk)
                if total > cap:
                    if total > info.file_size:
                        return b"", f"holds more than the {info.file_size:,} bytes it declares; reading stopped"
                    return b"", f"over the {limit:,}-byte limit; reading stopped"
                chunks.append(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError) as exc:
        return b"", f"damaged entry, cannot be read ({exc})"
    return b"".join(chunks), None


def _modified(info: zipfile.ZipInfo) -> datetime:
    try:
        return datetime(*info.date_time)
    except (TypeError, ValueError):
        return datetime(1980, 1, 1)


def _declared_entry_count(path: Path) -> int | None:
    """The entry count from the end-of-central-directory record, read before zipfile loads the whole directory.

    None when the record is not found or the zip uses the zip64 form; zipfile's own count is checked later.
    """
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            tail_size = min(size, 22 + 65_535)
            handle.seek(size - tail_size)
            tail = handle.read(tail_size)
    except OSError:
        return None
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return None
    entries = struct.unpack("<H", tail[at + 10 : at + 12])[0]
    return None if entries == 0xFFFF else entries
