"""A class graded by two shards at once into one gradebook on a real PostgreSQL server (started here; the
test is skipped, saying why, where PostgreSQL or its Python driver is missing)."""
from __future__ import annotations

import csv
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from autograder import checks
from autograder.grading import shard

ROOT = Path(__file__).resolve().parent.parent


def _postgres_bin() -> Path | None:
    """The folder of initdb and pg_ctl (Debian keeps them out of PATH, under /usr/lib/postgresql/<major>)."""
    for d in [Path("/usr/local/bin"), *sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)]:
        if (d / "initdb").is_file() and (d / "pg_ctl").is_file():
            return d
    found = shutil.which("initdb")
    return Path(found).parent if found else None


BIN = _postgres_bin()

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    if BIN is None:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    pytest.importorskip("psycopg", reason="PostgreSQL's Python driver (psycopg[binary], a dev extra) is missing")
    # PostgreSQL refuses to run as root: as root, run it as 'nobody'
    user = "nobody" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    as_user = ["runuser", "-u", user, "--"] if os.geteuid() == 0 else []
    data = Path(tempfile.mkdtemp(prefix="deepgrad-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data, user)
    port = _free_port()
    subprocess.run(as_user + [str(BIN / "initdb"), "-D", str(data / "db"), "-U", user, "--auth=trust"],
                   check=True, capture_output=True, timeout=120)
    subprocess.run(as_user + [str(BIN / "pg_ctl"), "-D", str(data / "db"), "-l", str(data / "log"), "-w", "-o",
                              f"-p {port} -k {data} -c listen_addresses=127.0.0.1", "start"],
                   check=True, capture_output=True, timeout=120)
    try:
        yield f"postgresql://{user}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(as_user + [str(BIN / "pg_ctl"), "-D", str(data / "db"), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(data, ignore_errors=True)


def test_two_shards_at_once_grade_one_class_into_postgres(postgres_url, tmp_path):
    names = ["ann", "ben", "cat", "dan"]
    subs, out = tmp_path / "subs", tmp_path / "out"
    for who in names:
        (subs / who).mkdir(parents=True)
        src = ROOT / ("solutions" if who in ("ann", "cat") else "assignments") / "A1" / "A1.ipynb"
        shutil.copy(src, subs / who / "A1.ipynb")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    start = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-m", "autograder.cli", "grade", "A1", str(subs), "--output",
                               str(out), "--no-progress", "--gradebook", postgres_url, "--shard", f"{i}/2"],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    results = [p.communicate(timeout=600) for p in procs]
    wall = time.monotonic() - start
    for p, (_, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err[-2000:]
    graded = [int(err.strip().splitlines()[-1].split()[1]) for _, err in results]
    assert graded == [sum(shard.of(s, 2) == i for s in names) for i in range(2)]
    print(f"2 shards, 4 students, one PostgreSQL gradebook: {wall:.1f} s (measured under load)")

    with open(out / "grades.csv") as f:
        rows = {r["student_id"]: r["score"] for r in csv.DictReader(f)}
    full = f"{sum(p.points for p in checks.load('A1').PARTS):g}"
    assert rows == {"ann": full, "ben": "0", "cat": full, "dan": "0"}

    from nbgrader.api import Gradebook

    from autograder._env import ensure_tools_on_path
    ensure_tools_on_path()
    with Gradebook(postgres_url) as gb:
        assert sorted(s.student.id for s in gb.assignment_submissions("A1")) == names
        assert gb.find_submission("A1", "cat").score == float(full)
