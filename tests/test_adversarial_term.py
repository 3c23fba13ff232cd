"""Submissions and rosters that try to fool the term's commands, each graded (or exported, returned, checked)
for real: one `grade_all` with a course file over honest students before and after the attackers, then the
term's commands on its output. One case per class of hole of issue 23: a folder linked to the instructor's
solution, names too long for a file name (and names that are not UTF-8), a forged submission time and an
extension keyed by a name that needs encoding, spreadsheet formulas in the LMS export, and a classmate's
notebook whose error texts and file name carry terminal escape sequences.
"""
from __future__ import annotations

import csv
import html
import io
import json
import os
import shutil
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote_to_bytes

import pytest
from harness import grade_rows, submit

from autograder import checks
from autograder import notebook as nbmod
from autograder.cli import main
from autograder.feedback import terminal
from autograder.grading import grade_all
from autograder.records import late, record
from autograder.results import Line, PartResult, StudentResult
from autograder.sandbox import isolation_available
from autograder.tools import lms

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = (ROOT / "solutions" / "A1" / "A1.ipynb").read_text()
STUB = (ROOT / "assignments" / "A1" / "A1.ipynb").read_text()
FULL = sum(p.points for p in checks.load("A1").PARTS)      # the automatic parts (written ones: by hand)
HALF = FULL / 2                                             # 36 hours late: 2 started days at 25 % off

COURSE = """
[penalty]
per_day = 0.25
max_days = 3

[A1]
due = 2026-10-09T23:59:00Z
extensions = { "o'neil" = 2026-10-20T23:59:00Z }
"""
ON_TIME, LATE = "2026-10-09 20:00:00.000000 UTC", "2026-10-11 12:00:00.000000 UTC"
LATE_MTIME = int(datetime(2026, 10, 11, 12, tzinfo=timezone.utc).timestamp())       # as a file's time

SECRET = "0f" * 64                                          # nbgrader's submission_secret.txt
LONG = "学" * 30                                            # 270 bytes once percent-encoded
NOT_UTF8 = os.fsdecode(b"bad\xff\xfename")                  # a name the file system holds as bytes
LONG_ID = nbmod.student_id(LONG)

# student name -> (expected score after the penalty, expected penalty); honest before and after the attackers
EXPECTED = {
    "0_honest_first": (FULL, 0),
    "linked_folder": (0, 0),            # A1/ -> solutions/A1: the instructor's notebook is never read
    "linked_zip": (0, 0),               # work.zip -> a zip of the solution elsewhere
    LONG: (FULL, 0),
    LONG_ID: (0, 0),                    # a folder named like the long name's id: a student of its own (stub)
    NOT_UTF8: (FULL, 0),
    "-2+3": (FULL, 0),
    "o'neil": (FULL, 0),                # late, within the extension the course file gives "o'neil"
    "forged_top": (HALF, HALF),         # own timestamp.txt beside a notebook made late
    "forged_inner": (HALF, HALF),       # own A1/timestamp.txt, the notebook graded is at the top
    "forged_beside": (HALF, HALF),      # own timestamp.txt beside nbgrader's A1/ (whose timestamp is late)
    "stub": (0, 0),
    "encrypted_zip": (0, 0),            # a member flagged as encrypted: no notebook, and the batch goes on
    "corrupt_zip": (0, 0),              # a deflate stream that does not inflate: the same
    "zz_honest_last": (FULL, 0),
}


def _broken_zip(path: Path, how: str) -> None:
    """A zip of the solution that Python's zipfile cannot read: ``encrypted`` (RuntimeError, password required)
    or ``corrupt`` (zlib.error)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("A1.ipynb", SOLUTION)
    data = bytearray(buf.getvalue())
    if how == "encrypted":
        for signature, flags in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):   # local and central headers
            data[data.find(signature) + flags] |= 1
    else:
        start = data.find(b"A1.ipynb") + len("A1.ipynb")
        data[start:start + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))


def _top(subs: Path, who: str, text: str, mtime: int | None = None) -> Path:
    (subs / who).mkdir(parents=True)
    nb = subs / who / "A1.ipynb"
    nb.write_text(text)
    if mtime is not None:
        os.utime(nb, (mtime, mtime))
    return nb


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    base = tmp_path_factory.mktemp("adversarial_term")
    subs = base / "submitted"
    subs.mkdir()
    submit(subs, "0_honest_first", SOLUTION, ON_TIME)
    (subs / "linked_folder").mkdir()
    (subs / "linked_folder" / "A1").symlink_to(ROOT / "solutions" / "A1")
    (base / "elsewhere").mkdir()
    with zipfile.ZipFile(base / "elsewhere" / "solution.zip", "w") as zf:
        zf.writestr("A1/A1.ipynb", SOLUTION)
    (subs / "linked_zip").mkdir()
    (subs / "linked_zip" / "work.zip").symlink_to(base / "elsewhere" / "solution.zip")
    submit(subs, LONG, SOLUTION, ON_TIME)
    (subs / LONG / "A1" / "submission_secret.txt").write_text(SECRET)          # came through nbgrader's exchange
    submit(subs, LONG_ID, STUB, ON_TIME)
    submit(subs, NOT_UTF8, SOLUTION, ON_TIME)
    submit(subs, "-2+3", SOLUTION, ON_TIME)
    submit(subs, "o'neil", SOLUTION, LATE)
    _top(subs, "forged_top", SOLUTION, LATE_MTIME)
    (subs / "forged_top" / "timestamp.txt").write_text(ON_TIME)
    (subs / "forged_top" / "submission_secret.txt").write_text(SECRET)         # its own, beside its notebook
    _top(subs, "forged_inner", SOLUTION, LATE_MTIME)
    (subs / "forged_inner" / "A1").mkdir()
    (subs / "forged_inner" / "A1" / "timestamp.txt").write_text(ON_TIME)
    submit(subs, "forged_beside", SOLUTION, LATE)
    (subs / "forged_beside" / "timestamp.txt").write_text(ON_TIME)
    submit(subs, "stub", STUB, ON_TIME)
    _broken_zip(subs / "encrypted_zip.zip", "encrypted")
    _broken_zip(subs / "corrupt_zip.zip", "corrupt")
    submit(subs, "zz_honest_last", SOLUTION, ON_TIME)
    (base / "course.toml").write_text(COURSE)
    out = base / "out"
    results = grade_all("A1", subs, out, jobs=2, seed=7, progress=False, course=base / "course.toml")
    return base, out, {r.student: r for r in results}


def sid(name: str) -> str:
    return nbmod.student_id(name)


# ------------------------------------------------------------------------------------------ the batch
@pytest.mark.parametrize("name", sorted(EXPECTED), ids=lambda n: ascii(n)[1:40])
def test_graded_exactly_as_deserved(term, name):
    _, out, _ = term
    score, penalty = EXPECTED[name]
    row = grade_rows(out / "grades.csv")[sid(name)]
    assert (float(row["score"]), float(row["late_penalty"])) == (score, penalty), row


def test_the_batch_completes_and_lists_everyone(term):
    _, out, results = term
    rows = grade_rows(out / "grades.csv")
    assert set(rows) == set(results) == {sid(n) for n in EXPECTED}
    for student in rows:
        assert len(student.encode()) <= nbmod.MAX_ID                       # nbgrader's String(128)
        assert (out / "feedback" / nbmod.folder_name(student) / "A1.html").is_file()
        assert record.load(out, student)["student"] == student
    for student in (sid(LONG), sid(NOT_UTF8), "zz_honest_last"):            # the formgrader's copies too
        assert (out / "autograded" / student / "A1" / "A1.ipynb").is_file()
    assert all(len(p.name.encode()) <= 255 for p in out.rglob("*"))


# ------------------------------------------------------------------------------------ 1. linked folders
def test_a_link_at_any_step_below_the_submissions_is_never_followed(term, tmp_path):
    _, _, results = term
    for name in ("linked_folder", "linked_zip"):
        lines = " ".join(line.text for p in results[name].parts for line in p.lines)
        assert "no notebook" in lines.lower(), (name, lines)
    # deeper down as well, and whatever the link points to
    student = tmp_path / "s"
    (student / "sub" / "deeper").mkdir(parents=True)
    (student / "sub" / "deeper" / "A1").symlink_to(ROOT / "solutions" / "A1")
    (student / "A1").symlink_to(student / "sub" / "deeper" / "A1")
    with pytest.raises(nbmod.NotebookProblem, match="no notebook"):
        nbmod.find(student, "A1", "A1.ipynb", tmp_path / "scratch")
    assert not nbmod._regular(student / "A1" / "A1.ipynb", student)
    assert not nbmod._regular(student / "sub" / "deeper" / "A1" / "A1.ipynb", student)
    with pytest.raises(nbmod.NotebookProblem, match="not a regular file"):
        nbmod.read_regular(student / "A1" / "A1.ipynb", 1 << 20, student)
    # a real folder is read, and what is returned is the grader's own copy
    (student / "A1").unlink()
    (student / "A1").mkdir()
    (student / "A1" / "A1.ipynb").write_text(SOLUTION)
    found = nbmod.find(student, "A1", "A1.ipynb", tmp_path / "scratch")
    assert tmp_path / "scratch" in found.parents and found.read_text() == SOLUTION


# ------------------------------------------------------------------------------------- 2. long names
def test_ids_fit_nbgrader_and_file_names_and_never_collide():
    for name in (LONG, "a" * 127, "a" * 128, "a" * 300, "%" * 60, NOT_UTF8, "-" + "学" * 40):
        i = sid(name)
        assert len(i) <= nbmod.MAX_ID and i.isascii() and i[:1] not in ("-", ".", "=", "+", "@")
        assert i == sid(name)                                                   # the same every run
        if len(i) < nbmod.MAX_ID:
            assert unquote_to_bytes(i) == os.fsencode(name)                     # round trip
    assert sid(sid(LONG)) != sid(LONG) and sid(LONG + "x") != sid(LONG)
    assert len({sid("学" * n) for n in range(10, 40)}) == 30


def test_return_names_zips_within_a_file_name_and_keeps_everyone(term):
    base, out, results = term
    roster = base / "display.csv"
    display = "学生" * 80                                                # 480 bytes: one name for everybody
    with open(roster, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["login", "display"])
        for name in EXPECTED:
            if name != NOT_UTF8:                                     # a roster is text: that one goes by id
                w.writerow([name, display])
    to = base / "returned"
    assert main(["return", "A1", str(out), "--to", str(to), "--roster", str(roster), "--match", "login",
                 "--name", "display"]) == 0
    zips = sorted(to.iterdir())
    assert len(zips) == len(results)
    assert all(len(z.name.encode()) <= 255 and z.suffix == ".zip" for z in zips)
    for z in zips:
        with zipfile.ZipFile(z) as f:
            assert "A1-feedback.html" in f.namelist()
    nbg = base / "course"
    assert main(["return", "A1", str(out), "--to", str(nbg), "--layout", "nbgrader"]) == 0
    assert (nbg / "feedback" / sid(LONG) / "A1" / "A1.html").is_file()
    assert (nbg / "feedback" / sid(LONG) / "A1" / "submission_secret.txt").read_text() == SECRET
    # only nbgrader's own files count, as for the timestamp: a secret beside a top-level notebook is the student's
    assert [p.name for p in (nbg / "feedback").iterdir()] == [sid(LONG)]
    assert record.load(out, "forged_top")["submission_secret"] is None


# ------------------------------------------------------------------------------ 3. the submission time
def test_only_nbgraders_own_timestamp_is_believed_and_the_record_says_which(term):
    _, out, _ = term
    for name in ("forged_top", "forged_inner"):
        rec = record.load(out, name)
        assert rec["submitted_at"] == "2026-10-11T12:00:00+00:00", name
        assert "modification time" in rec["late_note"] and "hours after the deadline" in rec["late_note"]
        assert "modification time" in (out / "feedback" / name / "A1.html").read_text()
    rec = record.load(out, "forged_beside")
    assert "nbgrader's exchange timestamp, A1/timestamp.txt" in rec["late_note"]
    assert rec["submitted_at"] == "2026-10-11T12:00:00+00:00"
    rec = record.load(out, "0_honest_first")
    assert rec["submitted_at"] == "2026-10-09T20:00:00+00:00" and "on time" in rec["late_note"]
    page = (out / "feedback" / "0_honest_first" / "A1.html").read_text()
    assert html.escape("nbgrader's exchange timestamp") in page


def test_an_extension_for_nobody_is_said_before_grading(tmp_path):
    """An extension keyed by an id (the old way) or a misspelt name would silently charge the student: say so."""
    (tmp_path / "course.toml").write_text(COURSE.replace('"o\'neil" =', '"o%27neil" ='))
    submit(tmp_path / "subs", "o'neil", STUB, LATE)
    stream = io.StringIO()
    grade_all("A1", tmp_path / "subs", tmp_path / "out", progress=False, course=tmp_path / "course.toml",
              stream=stream)
    assert "extensions to o%27neil, who submitted nothing here" in stream.getvalue(), stream.getvalue()


def test_an_extension_is_keyed_by_the_name_as_the_course_file_writes_it(term, tmp_path):
    base, out, _ = term
    course = late.load(base / "course.toml")
    assert sid("o'neil") == "o%27neil" and sid("o'neil") in course.deadlines["A1"].extensions
    assert "your extension" in record.load(out, sid("o'neil"))["late_note"]
    # the gradebook holds the extension too (nbgrader's export agrees)
    from nbgrader.api import Gradebook

    from autograder._env import ensure_tools_on_path
    ensure_tools_on_path()
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        sub = gb.find_submission("A1", sid("o'neil"))
        assert sub.late_submission_penalty == 0 and sub.extension is not None


# -------------------------------------------------------------------------------------- 4. LMS export
def test_export_neutralises_formulas_and_canvas_still_matches_its_ids(term):
    base, out, _ = term
    roster = base / "canvas-roster.csv"
    rows = [["Student", "ID", "SIS User ID", "SIS Login ID", "Section"],
            ['=HYPERLINK("http://evil","x")', "201", "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)"],
            ["\tTabbed", "202", "@CR", "o'neil", "-"],
            ["Long Name", "203", "-1+1", LONG, "S1"],
            ["Minus Id", "-5", "+7", "0_honest_first", "=1"]]
    with open(roster, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    to = base / "canvas.csv"
    assert main(["export", "A1", str(out), "--roster", str(roster), "--match", "SIS Login ID",
                 "--to", str(to)]) == 1            # graded students the roster lacks: listed, status 1
    written = list(csv.reader(open(to, newline="")))
    for row in written:
        for value in row:
            assert not value.startswith(lms.FORMULA_START) or value in ("-5", "+7"), (row, value)
    by_id = {r[1]: r for r in written[2:]}
    assert sorted(by_id) == ["-5", "201", "202", "203"]                 # Canvas's IDs, exactly as given
    assert {i: r[-1] for i, r in by_id.items()} == {i: f"{FULL:g}" for i in by_id}
    assert by_id["201"][:5] == ["'=HYPERLINK(\"http://evil\",\"x\")", "201", "'+cmd|' /C calc'!A0", "'-2+3",
                                "'@SUM(1)"]
    assert by_id["202"][0] == "'\tTabbed" and by_id["202"][2] == "'@CR" and by_id["202"][4] == "'-"
    assert by_id["203"][3] == LONG and by_id["203"][2] == "'-1+1"
    assert lms.cell("-5") == "-5" and lms.cell("1.5e3") == "1.5e3" and lms.cell("-1e") == "'-1e"
    assert lms.cell("\rx") == "'\rx" and lms.cell(None) == "" and lms.cell("a=b") == "a=b"


# ----------------------------------------------------------------------------- 5. deepgrad check's text
ESCAPES = ("\x1b]52;c;ZWNobyBvd25lZA==\x07"          # OSC 52: write the reader's clipboard
           "\x1b[2K\rA1: 18 / 18 for A1.ipynb"      # erase the line, back to its start, a fake score
           "\x1b[8mhidden\x1b[0m\u202etxt.exe\x9b31m")


def test_check_shows_escapes_instead_of_sending_them_and_says_its_sandbox(tmp_path, capsys):
    nb = json.loads(SOLUTION)
    cell = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "ans_predict")
    cell["source"] = f"def predict(W, X):\n    raise ValueError({ESCAPES!r})\n"
    path = tmp_path / "A1\x1b]0;owned\x07\u202e.ipynb"
    path.write_text(json.dumps(nb))
    assert main(["check", "A1", str(path), "--seed", "3"]) == 1
    printed = capsys.readouterr().out
    assert not any(c in printed for c in "\x1b\x07\r\x9b\u202e"), ascii(printed)
    assert printed.startswith(f"A1: {FULL - 1:g} / {FULL:g} for ")               # the real score, first
    assert "\\x1b]52;c;" in printed and "\\u202e" in printed                     # shown, not sent
    mode = "namespaces + rlimits" if isolation_available() else "rlimits only"
    assert mode in printed.splitlines()[-1]


def test_terminal_never_claims_a_sandbox_it_did_not_have():
    part = PartResult("predict", 1.0, 0.0, "error", "predict\x1b[2J", lines=[Line(False, "Error: x\x1b[31m\ry")])
    result = StudentResult("x", "A1", [part], notebook_problem="bad\x1b]52;c;QQ==\x07\nA1: 1 / 1")
    weak = terminal(result, Path("nb\x07.ipynb"), "rlimits only")
    assert "rlimits only" in weak and "in a sandbox" not in weak
    strong = terminal(result, Path("nb.ipynb"), "namespaces + rlimits")
    assert "in a sandbox (namespaces + rlimits)" in strong
    assert "sandbox" not in terminal(result, Path("nb.ipynb"))
    for text in (weak, strong):
        assert not any(c in text for c in "\x1b\x07\r") and "\nA1: 1 / 1" not in text


def test_roster_check_never_prints_a_control_character():
    found = lms.check([{"login": "alice"}], {"alice": 1.0, "%1B%5D52%3Bc%3BQQ%3D%3D%07": 2.0, "a%20b": 1.0},
                      "login")
    assert found.unknown == ["%1B%5D52%3Bc%3BQQ%3D%3D%07", "a b"]


def test_linked_submission_folder_entry_is_not_a_student(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "mallory").symlink_to(ROOT / "solutions" / "A1")
    shutil.copytree(ROOT / "assignments" / "A1", tmp_path / "s" / "honest")
    assert [s for s, _ in nbmod.discover(tmp_path / "s")] == ["honest"]
