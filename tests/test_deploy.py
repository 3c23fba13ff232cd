"""deploy/: the Kubernetes Indexed Job and the zero-to-jupyterhub values, checked for structure (they cannot be
run here), and `--shard`, which the Job relies on, splitting a class into disjoint parts."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from autograder.grading import shard
from autograder.cli import main

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def _docs(name):
    return list(yaml.safe_load_all((DEPLOY / name).read_text()))


def test_grading_job_is_an_indexed_job_with_one_shard_per_pod():
    job, policy = _docs("grading-job.yaml")
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed" and spec["completions"] == spec["parallelism"]
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
    (grader,) = pod["containers"]
    command = " ".join(grader["command"] + grader["args"])
    n = spec["completions"]
    assert f'--shard "${{JOB_COMPLETION_INDEX}}/{n}"' in command
    assert re.search(r"deepgrad grade A1 /srv/submissions\s+--output /srv/out", command)
    mounts = {m["mountPath"]: m for m in grader["volumeMounts"]}
    assert mounts["/srv/submissions"]["readOnly"] is True and "/srv/out" in mounts
    claims = {v["name"] for v in pod["volumes"]}
    assert {m["name"] for m in grader["volumeMounts"]} <= claims
    assert grader["resources"]["limits"]["cpu"] == grader["resources"]["requests"]["cpu"]
    # no network but the gradebook
    assert policy["kind"] == "NetworkPolicy" and set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    assert policy["spec"]["ingress"] == [] and [p["port"] for r in policy["spec"]["egress"]
                                             for p in r["ports"]] == [5432]


def test_jupyterhub_values_give_students_the_course():
    (values,) = _docs("jupyterhub-values.yaml")
    assert set(values) <= {"hub", "singleuser", "proxy", "cull", "scheduling", "prePuller", "ingress"}
    user = values["singleuser"]
    assert user["defaultUrl"] == "/lab/tree/course" and user["image"]["name"]
    assert user["networkPolicy"]["egressAllowRules"]["privateIPs"] is False
    assert user["memory"]["limit"] and user["cpu"]["limit"]
    job, _ = _docs("grading-job.yaml")
    image = job["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"{user['image']['name']}:{user['image']['tag']}"     # one image for both sides


def test_shards_are_disjoint_and_cover_the_class():
    ids = [f"s{i:04d}" for i in range(1000)]
    parts = [[s for s in ids if shard.of(s, 4) == i] for i in range(4)]
    assert sorted(sum(parts, [])) == ids and all(150 < len(p) < 350 for p in parts)
    assert shard.parse("3/8") == (3, 8)
    for bad in ("8/8", "1", "a/b", "0/0"):
        with pytest.raises(ValueError, match="--shard"):
            shard.parse(bad)


def test_grade_refuses_a_bad_shard(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["grade", "A1", str(tmp_path), "--output", str(tmp_path / "o"), "--shard", "4/4"])
    assert "0 <= i < N, got '4/4'" in capsys.readouterr().err


def test_shards_grade_disjoint_students_into_one_gradebook(tmp_path, capsys):
    import csv
    import shutil
    stub = Path(__file__).resolve().parent.parent / "assignments" / "A1" / "A1.ipynb"
    subs, out = tmp_path / "subs", tmp_path / "out"
    names = ["ann", "ben", "cat", "dan", "eve"]
    for who in names:
        (subs / who).mkdir(parents=True)
        shutil.copy(stub, subs / who / "A1.ipynb")
    graded = []
    for i in range(2):
        main(["grade", "A1", str(subs), "--output", str(out), "--no-progress", "--shard", f"{i}/2"])
        summary = capsys.readouterr().err.strip().splitlines()[-1]
        graded.append(int(summary.split()[1]))
        assert graded[-1] == sum(shard.of(s, 2) == i for s in names)
    assert sum(graded) == len(names)
    with open(out / "grades.csv") as f:
        assert sorted(r["student_id"] for r in csv.DictReader(f)) == names
