"""Ingest: LMS file names, bulk-download zips read safely, rosters, one submission per student."""

from __future__ import annotations

import io
import os
import stat
import struct
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from grader.ingest.archives import ArchiveLimits, read_zip
from grader.ingest.files import InputError, read_intake, read_submissions
from grader.ingest.lms_names import parse_name
from grader.ingest.notebooks import safe_id, student_id_for
from grader.ingest.roster import RosterError, read_roster

OLD = (2024, 3, 1, 9, 0, 0)
NEW = (2024, 3, 2, 9, 0, 0)


def notebook_bytes(text: str) -> bytes:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)])
    return nbformat.writes(notebook).encode("utf-8")


def write_zip(path: Path, entries: list[tuple[str, bytes] | tuple[str, bytes, tuple]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data, *date in entries:
            archive.writestr(zipfile.ZipInfo(name, date[0] if date else NEW), data)
    return path


def text_of(submission) -> str:
    return submission.notebook.cells[0].source


# --- file names -----------------------------------------------------------------------------


def test_canvas_name_with_late_flag():
    info = parse_name("doejane_LATE_12345_67890_Regularization.ipynb")
    assert (info.lms, info.login, info.user_id, info.submission_id) == ("canvas", "doejane", "12345", "67890")
    assert info.late and info.original == "Regularization.ipynb" and info.resubmission == 0


def test_canvas_name_on_time():
    info = parse_name("smithjohn_222_333_hw 3 final.ipynb")
    assert (info.lms, info.login, info.user_id, info.submission_id, info.late) == (
        "canvas",
        "smithjohn",
        "222",
        "333",
        False,
    )
    assert info.original == "hw 3 final.ipynb"


def test_canvas_resubmission_suffix_is_read_and_removed_from_the_original_name():
    info = parse_name("doejane_12345_67999_Regularization-2.ipynb")
    assert info.resubmission == 2 and info.original == "Regularization.ipynb"


def test_moodle_folder_per_student():
    info = parse_name("Jane Doe_1234_assignsubmission_file_/homework.ipynb")
    assert (info.lms, info.name, info.user_id, info.original) == ("moodle", "Jane Doe", "1234", "homework.ipynb")


def test_moodle_flattened_name():
    info = parse_name("Anna Maria_Lopez_77_assignsubmission_file_my_homework.ipynb")
    assert (info.lms, info.name, info.user_id, info.original) == (
        "moodle",
        "Anna Maria_Lopez",
        "77",
        "my_homework.ipynb",
    )


def test_moodle_blind_marking_hides_the_name():
    info = parse_name("Participant_5551_assignsubmission_file_/hw.ipynb")
    assert (info.lms, info.name, info.user_id) == ("moodle", "", "5551")


def test_plain_name_is_the_student():
    info = parse_name("section1/jdoe.ipynb")
    assert (info.lms, info.login, info.folder) == ("plain", "jdoe", "section1")


def test_student_ids_are_safe_file_names():
    assert student_id_for(Path("../../etc/passwd.ipynb")) == "passwd"
    assert safe_id("..") == "student" and safe_id("a/../b") == "a_._b"
    assert safe_id("José Ñúñez") == "Jose_Nunez"
    assert safe_id("CON") == "CON_"
    assert "/" not in safe_id("x/y") and ".." not in safe_id("x..y")


# --- a Canvas bulk download ---------------------------------------------------------------------


@pytest.fixture
def canvas_zip(tmp_path: Path) -> Path:
    entries = [
        # doejane submitted twice; the older upload has the later zip date on purpose:
        # Canvas' submission id decides, not the date.
        ("doejane_12345_67890_Regularization.ipynb", notebook_bytes("jane first try"), NEW),
        ("doejane_LATE_12345_67999_Regularization-1.ipynb", notebook_bytes("jane final"), OLD),
        ("brokenbob_20002_70002_Regularization.ipynb", b'{"cells": [ {"cell_type": "mark'),
        ("syllabus.pdf", b"%PDF-1.4"),
        ("__MACOSX/._doejane_12345_67890_Regularization.ipynb", b"\x00\x05"),
        (".DS_Store", b"\x00"),
    ]
    for n in range(9):
        entries.append((f"student{n}_{30000 + n}_{80000 + n}_Regularization.ipynb", notebook_bytes(f"answers of {n}")))
    return write_zip(tmp_path / "canvas.zip", entries)


def test_canvas_zip_gives_one_submission_per_student(canvas_zip: Path):
    intake = read_intake([canvas_zip])
    by_student = {s.student: s for s in intake.submissions}
    assert len(intake.submissions) == 12 - 1  # 12 notebooks, doejane twice
    assert set(by_student) == {"doejane", "brokenbob", *(f"student{n}" for n in range(9))}
    assert by_student["student3"].source == f"{canvas_zip}!student3_30003_80003_Regularization.ipynb"
    assert by_student["student3"].notebook is not None and len(by_student["student3"].sha256) == 64


def test_the_newest_canvas_upload_wins_and_the_older_is_noted(canvas_zip: Path):
    intake = read_intake([canvas_zip])
    jane = next(s for s in intake.submissions if s.student == "doejane")
    assert text_of(jane) == "jane final"
    assert jane.late
    assert any("1 older file from this student was ignored" in note and "67890" in note for note in jane.notes)
    assert any("67890" in source and "older" in reason for source, reason in intake.skipped)
    assert jane.identity.lms_user_id == "12345"


def test_a_broken_notebook_is_kept_as_an_error_submission(canvas_zip: Path):
    bob = next(s for s in read_intake([canvas_zip]).submissions if s.student == "brokenbob")
    assert bob.notebook is None and "JSON is broken" in bob.error


def test_files_that_are_not_notebooks_are_skipped_with_a_reason(canvas_zip: Path):
    skipped = dict(read_intake([canvas_zip]).skipped)
    assert skipped[f"{canvas_zip}!syllabus.pdf"] == "not a notebook (.pdf)"
    assert "macOS" in skipped[f"{canvas_zip}!.DS_Store"]
    assert "macOS" in skipped[f"{canvas_zip}!__MACOSX/._doejane_12345_67890_Regularization.ipynb"]


def test_read_submissions_still_returns_a_list(canvas_zip: Path):
    assert len(read_submissions([canvas_zip])) == 11


# --- hostile archives -----------------------------------------------------------------------------


def test_unsafe_names_symlinks_and_nested_zips_are_skipped_and_nothing_is_written(tmp_path: Path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    link = zipfile.ZipInfo("link.ipynb", NEW)
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as nested:
        nested.writestr("hidden.ipynb", notebook_bytes("nested"))
    archive = tmp_path / "hostile.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("good_1_2_hw.ipynb", notebook_bytes("good"))
        zf.writestr("../evil.ipynb", notebook_bytes("evil"))
        zf.writestr("/tmp/abs_evil.ipynb", notebook_bytes("evil"))
        zf.writestr("C:/evil.ipynb", notebook_bytes("evil"))
        zf.writestr("dir\\evil.ipynb", notebook_bytes("evil"))
        zf.writestr(link, "/etc/passwd")
        zf.writestr("more.zip", inner.getvalue())
    before = sorted(tmp_path.parent.rglob("*"))

    intake = read_intake([archive])

    assert [s.student for s in intake.submissions] == ["good"]
    skipped = dict(intake.skipped)
    assert ".. in the path" in skipped[f"{archive}!../evil.ipynb"]
    assert "absolute path" in skipped[f"{archive}!/tmp/abs_evil.ipynb"]
    assert "drive letter" in skipped[f"{archive}!C:/evil.ipynb"]
    assert "backslash" in skipped[f"{archive}!dir\\evil.ipynb"]
    assert "symbolic link" in skipped[f"{archive}!link.ipynb"]
    assert "not opened" in skipped[f"{archive}!more.zip"]
    assert sorted(tmp_path.parent.rglob("*")) == before
    assert not Path("/tmp/abs_evil.ipynb").exists() and not list(work.iterdir())


@pytest.fixture
def count_reads(monkeypatch) -> list[int]:
    """Every byte count zipfile hands out while a test runs."""
    counted: list[int] = []
    original = zipfile.ZipExtFile.read

    def read(self, n=-1):
        data = original(self, n)
        counted.append(len(data))
        return data

    monkeypatch.setattr(zipfile.ZipExtFile, "read", read)
    return counted


def test_a_zip_bomb_is_refused_without_reading_it(tmp_path: Path, count_reads: list[int]):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ok_1_2_hw.ipynb", notebook_bytes("fine"))
        with zf.open("bomb_3_4_hw.ipynb", "w") as member:  # 200 MB of zeros, about 200 KB compressed
            zeros = bytes(1024 * 1024)
            for _ in range(200):
                member.write(zeros)
    count_reads.clear()

    contents = read_zip(archive)  # default limits: 100 MiB per notebook, 200:1 ratio

    assert [m.name for m in contents.members] == ["ok_1_2_hw.ipynb"]
    assert "over the 104,857,600-byte limit" in dict(contents.skipped)["bomb_3_4_hw.ipynb"]
    assert sum(count_reads) < 1024 * 1024

    ratio_only = read_zip(archive, ArchiveLimits(max_file_bytes=500 * 1024 * 1024))
    assert "zip bomb" in dict(ratio_only.skipped)["bomb_3_4_hw.ipynb"]

    small_total = read_zip(archive, ArchiveLimits(max_file_bytes=10**9, max_ratio=10**6, max_total_bytes=1024 * 1024))
    assert small_total.members == [] and "in total" in small_total.skipped[0][1]
    assert sum(count_reads) < 1024 * 1024


def test_a_member_that_lies_about_its_size_is_not_read_past_the_declared_size(tmp_path: Path, count_reads: list[int]):
    archive = tmp_path / "liar.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("liar_1_2_hw.ipynb", bytes(5 * 1024 * 1024))
    raw = bytearray(archive.read_bytes())
    for signature, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # local header, central directory
        at = raw.find(signature)
        raw[at + size_at : at + size_at + 4] = struct.pack("<L", 1000)
    archive.write_bytes(bytes(raw))
    count_reads.clear()

    contents = read_zip(archive)

    assert contents.members == []
    assert "cannot be read" in dict(contents.skipped)["liar_1_2_hw.ipynb"]
    assert sum(count_reads) <= 1000


def test_too_many_entries_refuses_the_archive(tmp_path: Path):
    archive = write_zip(tmp_path / "many.zip", [(f"s{n}_{n}_{n}_hw.ipynb", notebook_bytes("x")) for n in range(12)])
    intake = read_intake([archive], limits=ArchiveLimits(max_entries=10))
    assert intake.submissions == []
    assert intake.skipped == [(str(archive), "the archive has 12 entries, over the 10 limit; nothing was read from it")]


def test_a_file_that_is_not_a_zip_is_reported_not_raised(tmp_path: Path):
    fake = tmp_path / "download.zip"
    fake.write_bytes(b"not a zip at all")
    intake = read_intake([fake])
    assert intake.submissions == [] and "not a readable zip" in intake.skipped[0][1]


# --- Moodle and plain files --------------------------------------------------------------------------


def test_moodle_zip_with_folders_and_flattened_names(tmp_path: Path):
    archive = write_zip(
        tmp_path / "moodle.zip",
        [
            ("Jane Doe_1234_assignsubmission_file_/homework.ipynb", notebook_bytes("jane old"), OLD),
            ("Jane Doe_1234_assignsubmission_file_/homework_v2.ipynb", notebook_bytes("jane new"), NEW),
            ("Jane Doe_1234_assignsubmission_file_/report.pdf", b"%PDF"),
            ("John Smith_99_assignsubmission_file_hw.ipynb", notebook_bytes("john")),
            ("Participant_5551_assignsubmission_file_/hw.ipynb", notebook_bytes("anonymous")),
        ],
    )
    intake = read_intake([archive])
    by_student = {s.student: s for s in intake.submissions}
    assert set(by_student) == {"Jane_Doe", "John_Smith", "participant_5551"}
    assert text_of(by_student["Jane_Doe"]) == "jane new"
    assert by_student["Jane_Doe"].identity.name == "Jane Doe"
    assert "homework.ipynb" in by_student["Jane_Doe"].notes[0]


def test_plain_files_in_a_folder_and_the_newest_copy_wins(tmp_path: Path):
    first, second = tmp_path / "download1", tmp_path / "download2"
    for folder in (first, second):
        folder.mkdir()
    (first / "jdoe.ipynb").write_bytes(notebook_bytes("old"))
    (second / "jdoe.ipynb").write_bytes(notebook_bytes("new"))
    os.utime(first / "jdoe.ipynb", (time.time() - 3600,) * 2)
    (first / "notes.txt").write_text("hi")
    intake = read_intake([first, second])
    assert [(s.student, text_of(s)) for s in intake.submissions] == [("jdoe", "new")]
    assert (str(first / "notes.txt"), "not a notebook (.txt)") in intake.skipped


def test_same_file_name_in_student_folders_is_not_one_student(tmp_path: Path):
    for name in ("alice", "bob"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "homework.ipynb").write_bytes(notebook_bytes(name))
    intake = read_intake([tmp_path])
    assert {s.student: text_of(s) for s in intake.submissions} == {"alice_homework": "alice", "bob_homework": "bob"}


def test_a_missing_path_is_an_input_error(tmp_path: Path):
    with pytest.raises(InputError, match="no such file or folder"):
        read_intake([tmp_path / "nope"])


# --- rosters ----------------------------------------------------------------------------------------


CANVAS_ROSTER = (
    "\ufeffStudent, id ,SIS User ID,sis_login_id,Section,Regularization (123)\n"
    "    Points Possible,,,,,10\n"
    '"Doe, Jane",12345,S001,jdoe,Section A,\n'
    '"Student, Three",30003,S003,three@school.edu,Section B,\n'
    '"Gone, Absent",40004,S004,absent,Section B,\n'
)


def test_canvas_roster_attaches_names_and_sis_ids(tmp_path: Path, canvas_zip: Path):
    roster_file = tmp_path / "roster.csv"
    roster_file.write_text(CANVAS_ROSTER, encoding="utf-8")
    roster = read_roster(roster_file)
    assert roster.kind == "canvas" and len(roster.students) == 3

    intake = read_intake([canvas_zip], roster)
    by_student = {s.student: s for s in intake.submissions}
    jane = by_student["jdoe"]  # the SIS login, not the Canvas name part
    assert (jane.identity.name, jane.identity.sis_id, jane.identity.section) == ("Doe, Jane", "S001", "Section A")
    three = by_student["three_school.edu"]
    assert three.identity.email == "three@school.edu" and three.identity.lms_user_id == "30003"
    assert any("by id 30003, but the file name says 'student3'" in note for note in three.notes)
    stranger = by_student["student5"]  # not on the roster: kept, with a note
    assert stranger.notebook is not None
    assert any("not on the roster" in note and str(roster_file) in note for note in stranger.notes)
    assert [s.name for s in intake.missing] == ["Gone, Absent"]


def test_simple_roster_matches_moodle_names_and_plain_file_names(tmp_path: Path):
    roster_file = tmp_path / "class.csv"
    roster_file.write_text(
        "ID, Name ,E-mail\n1001,Jane Doe,jane.doe@school.edu\n1002,John Smith,jsmith@school.edu\n1003,Li Wei,lwei@school.edu\n",
        encoding="utf-8",
    )
    roster = read_roster(roster_file)
    assert roster.kind == "simple"
    archive = write_zip(
        tmp_path / "moodle.zip", [("Jane Doe_1234_assignsubmission_file_/hw.ipynb", notebook_bytes("jane"))]
    )
    plain = tmp_path / "jsmith.ipynb"
    plain.write_bytes(notebook_bytes("john"))
    also_plain = tmp_path / "1003.ipynb"
    also_plain.write_bytes(notebook_bytes("li"))

    intake = read_intake([archive, plain, also_plain], roster)

    identities = {s.student: s.identity for s in intake.submissions}
    assert set(identities) == {"1001", "1002", "1003"}
    assert identities["1001"].email == "jane.doe@school.edu" and identities["1001"].lms_user_id == "1234"
    assert identities["1002"].name == "John Smith"
    assert identities["1003"].name == "Li Wei"
    assert all(not s.notes for s in intake.submissions)


def test_roster_errors_name_the_file_and_the_line(tmp_path: Path):
    roster_file = tmp_path / "roster.csv"
    roster_file.write_text("Name,Section\nJane,A\n", encoding="utf-8")
    with pytest.raises(RosterError, match=r"roster\.csv: line 1: no id or email column"):
        read_roster(roster_file)

    roster_file.write_text("id,name,email\n1,Jane,j@x.edu\n\n1,John,jo@x.edu\n", encoding="utf-8")
    with pytest.raises(RosterError, match=r"roster\.csv: line 4: id '1' is also on line 2"):
        read_roster(roster_file)

    roster_file.write_text(CANVAS_ROSTER + '"Nobody, Here",,,,Section C,\n', encoding="utf-8")
    with pytest.raises(RosterError, match=r"line 6: 'Nobody, Here' has no ID"):
        read_roster(roster_file)

    with pytest.raises(RosterError, match="cannot read the roster"):
        read_roster(tmp_path / "missing.csv")


def test_two_roster_students_with_one_name_are_not_guessed(tmp_path: Path):
    roster_file = tmp_path / "roster.csv"
    roster_file.write_text("id,name,email\n1,Jane Doe,a@x.edu\n2,Jane Doe,b@x.edu\n", encoding="utf-8")
    archive = write_zip(tmp_path / "m.zip", [("Jane Doe_77_assignsubmission_file_hw.ipynb", notebook_bytes("?"))])
    (submission,) = read_intake([archive], read_roster(roster_file)).submissions
    assert submission.identity.name == "Jane Doe" and submission.identity.email == ""
    assert any("several roster students" in note for note in submission.notes)
