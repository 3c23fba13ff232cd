"""deploy/: the Kubernetes Indexed Job, its gradebook and volumes, the zero-to-jupyterhub values and the image's
Dockerfile, checked for structure (they cannot be run here) and against Kubernetes' schemas where
kubernetes-validate is installed; the one-machine hub's configuration run on a stand-in spawner; and `--shard`,
which the Job relies on, splitting a class into disjoint parts. (deploy/hub/try_hub.py runs a real hub:
tests/test_hub.py.)"""
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


def _kind(name, kind):
    return [d for d in _docs(name) if d["kind"] == kind]


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
    assert policy["spec"]["ingress"] == [] and sorted(p["port"] for r in policy["spec"]["egress"]
                                                      for p in r["ports"]) == [53, 53, 5432]


def test_graders_resolve_the_gradebook_and_reach_nothing_else():
    """The gradebook's URL names a Service; the pods may reach its database pods and the cluster's DNS only."""
    job, policy = _docs("grading-job.yaml")
    (service,), (database,), (secret,) = (_kind("grading-setup.yaml", k) for k in ("Service", "StatefulSet", "Secret"))
    host = re.match(r"postgresql://[^@]+@([^:/]+):(\d+)/", secret["stringData"]["url"])
    assert host and host.group(1) == service["metadata"]["name"] and int(host.group(2)) == 5432
    assert service["spec"]["selector"].items() <= database["spec"]["template"]["metadata"]["labels"].items()
    rules = policy["spec"]["egress"]
    to_db = [r for r in rules if any(p["port"] == 5432 for p in r["ports"])]
    assert [t["podSelector"]["matchLabels"] for r in to_db for t in r["to"]] == [service["spec"]["selector"]]
    (dns,) = [r for r in rules if any(p["port"] == 53 for p in r["ports"])]
    assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}
    (peer,) = dns["to"]
    assert peer["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "kube-system"}
    env = {e["name"]: e for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DEEPGRAD_GRADEBOOK"]["valueFrom"]["secretKeyRef"] == {"name": secret["metadata"]["name"], "key": "url"}


def test_the_job_grades_the_mounted_course_in_a_privileged_namespace():
    job, _ = _docs("grading-job.yaml")
    pod = job["spec"]["template"]["spec"]
    (grader,) = pod["containers"]
    command = " ".join(grader["command"] + grader["args"])
    mounts = {m["mountPath"]: m for m in grader["volumeMounts"]}
    course = re.search(r"--course-dir (\S+)", command).group(1)
    assert mounts[course]["readOnly"] is True
    assert re.search(rf"--course {course}/\S+\.toml", command)                # the deadlines: the course's own
    # what baseline refuses is asked for, and the namespace allows it
    assert grader["securityContext"]["capabilities"]["add"] == ["SYS_ADMIN"]
    assert pod["securityContext"]["seccompProfile"]["type"] == "Unconfined"
    (namespace,) = _kind("grading-setup.yaml", "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    assert job["metadata"]["namespace"] == namespace["metadata"]["name"]
    text = (DEPLOY / "grading-job.yaml").read_text()
    for why in ("SYS_ADMIN", "Unconfined", "runAsUser: 0", "baseline", "privileged"):
        assert why in text.split("apiVersion")[0], f"the Job's header comment does not explain {why}"
    # every claim the pods mount exists, ReadWriteMany (many pods at once)
    claims = {c["metadata"]["name"]: c for c in _kind("grading-setup.yaml", "PersistentVolumeClaim")}
    for volume in pod["volumes"]:
        assert claims[volume["persistentVolumeClaim"]["claimName"]]["spec"]["accessModes"] == ["ReadWriteMany"]
    (transfer,) = _kind("grading-setup.yaml", "Pod")                    # the way files move in (deploy/README.md)
    assert {v["persistentVolumeClaim"]["claimName"] for v in transfer["spec"]["volumes"]} == set(claims)


def _hub_extra_config(values):
    """Run the values' hub.extraConfig as the hub would, on a traitlets Config; its c."""
    from traitlets.config import Config
    c = Config()
    for code in values["hub"]["extraConfig"].values():
        exec(compile(code, "extraConfig", "exec"), {"c": c})
    return c


class _Spawner:
    def __init__(self, name, uid):
        self.user = type("User", (), {"name": name, "id": uid})()
        self.environment = {}


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


def test_every_server_mounts_the_exchange_where_nbgrader_looks():
    from traitlets.config import PyFileConfigLoader
    (values,) = _docs("jupyterhub-values.yaml")
    user = values["singleuser"]
    root = PyFileConfigLoader("nbgrader_config.py", path=str(DEPLOY / "hub")).load_config().Exchange.root
    (mount,) = [m for m in user["storage"]["extraVolumeMounts"] if m["mountPath"] == root]
    (volume,) = [v for v in user["storage"]["extraVolumes"] if v["name"] == mount["name"]]
    (claim,) = _docs("hub-exchange.yaml")
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    (init,) = user["initContainers"]
    assert "chmod 1777" in " ".join(init["command"]) and [m["mountPath"] for m in init["volumeMounts"]] == [root]


def test_instructors_get_a_formgrader_server_and_every_user_a_uid_of_their_own():
    (values,) = _docs("jupyterhub-values.yaml")
    c = _hub_extra_config(values)
    teacher, ana, ben = _Spawner("instructor", 1), _Spawner("ana", 2), _Spawner("ben", 3)
    assert len({c.KubeSpawner.uid(s) for s in (teacher, ana, ben)}) == 3
    config_path = {p["display_name"]: p["kubespawner_override"]["environment"]["JUPYTER_CONFIG_PATH"]
                   for p in c.KubeSpawner.profile_list(teacher)}
    assert sorted(config_path.values()) == ["/opt/deepgrad/etc/jupyter-instructor", "/opt/deepgrad/etc/jupyter-student"]
    assert [p["kubespawner_override"]["environment"]["JUPYTER_CONFIG_PATH"]
            for p in c.KubeSpawner.profile_list(ana)] == ["/opt/deepgrad/etc/jupyter-student"]
    # the image holds both configurations where the profiles point
    for path in config_path.values():
        assert (DEPLOY / "hub" / "etc" / Path(path).name).is_dir()
    assert "COPY deploy/hub/etc etc" in (DEPLOY / "Dockerfile").read_text()


def test_the_image_holds_no_solutions_and_the_configs_it_names():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    ignored = (DEPLOY.parent / ".dockerignore").read_text().split()
    assert "solutions/" in ignored and ".venv/" in ignored and "gradebook.db" in ignored
    copied = re.findall(r"^COPY (?!--)(.+) \S+$", dockerfile, re.M)
    sources = [s for line in copied for s in line.split()]
    assert not any(s.startswith("solutions") for s in sources)
    for source in sources:
        assert (DEPLOY.parent / source).exists(), f"the Dockerfile copies {source}, which is missing"
    assert "venv/etc/jupyter/nbgrader_config.py" in dockerfile
    assert re.search(r'CMD \["jupyterhub-singleuser"\]', dockerfile)
    # the Job runs the deepgrad of the image's venv
    job, _ = _docs("grading-job.yaml")
    assert "/opt/deepgrad/venv/bin/deepgrad grade" in " ".join(job["spec"]["template"]["spec"]["containers"][0]["args"])


def _load_hub_config(monkeypatch, tmp_path):
    """deploy/hub/jupyterhub_config.py as JupyterHub loads it, with the installation in tmp_path."""
    from traitlets.config import Config
    monkeypatch.setenv("DEEPGRAD_INSTALL", str(tmp_path / "opt"))
    c, ns = Config(), {}
    ns["get_config"] = lambda: c
    path = DEPLOY / "hub" / "jupyterhub_config.py"
    exec(compile(path.read_text(), str(path), "exec"), ns)
    return c, ns


def test_the_hub_closes_homes_and_gives_each_role_its_config(monkeypatch, tmp_path):
    import os
    c, ns = _load_hub_config(monkeypatch, tmp_path)
    assert c.JupyterHub.authenticator_class == "pam" and c.Spawner.cmd == [str(tmp_path / "opt/venv/bin/jupyterhub-singleuser")]
    (tmp_path / "opt" / "course").mkdir(parents=True)
    (tmp_path / "opt" / "course" / "00_welcome.ipynb").write_text("{}")
    from types import SimpleNamespace
    homes = {}
    for name in ("teacher", "ana"):
        homes[name] = tmp_path / "home" / name
        homes[name].mkdir(parents=True)
        os.chmod(homes[name], 0o755)
    monkeypatch.setitem(ns, "pwd", type("pwd", (), {"getpwnam": staticmethod(
        lambda name: SimpleNamespace(pw_dir=str(homes[name]), pw_uid=os.getuid(), pw_gid=os.getgid()))}))
    monkeypatch.setitem(ns, "is_instructor", lambda name: name == "teacher")
    for name in homes:
        spawner = _Spawner(name, 1)
        c.Spawner.pre_spawn_hook(spawner)
        assert oct(homes[name].stat().st_mode & 0o777) == "0o700"
        assert (homes[name] / "course" / "00_welcome.ipynb").exists()
        role = "instructor" if name == "teacher" else "student"
        assert spawner.environment["JUPYTER_CONFIG_PATH"] == str(tmp_path / "opt" / "etc" / f"jupyter-{role}")
        assert spawner.environment["PATH"].startswith(str(tmp_path / "opt" / "venv" / "bin"))


def test_the_roles_servers_load_the_right_nbgrader_extensions():
    import json
    etc = DEPLOY / "hub" / "etc"
    student = json.loads((etc / "jupyter-student" / "jupyter_server_config.json").read_text())
    extensions = student["ServerApp"]["jpserver_extensions"]
    assert extensions["nbgrader.server_extensions.formgrader"] is False
    assert extensions["nbgrader.server_extensions.assignment_list"] is True
    lab = json.loads((etc / "jupyter-student" / "labconfig" / "page_config.json").read_text())["disabledExtensions"]
    assert lab["@jupyter/nbgrader:formgrader"] and "@jupyter/nbgrader:assignment-list" not in lab
    instructor = json.loads((etc / "jupyter-instructor" / "jupyter_server_config.json").read_text())
    csp = instructor["ServerApp"]["tornado_settings"]["headers"]["Content-Security-Policy"]
    assert csp == "frame-ancestors 'self'"      # the formgrader's tab is a frame of the same server


# (jupyterhub-values.yaml is Helm values, not a manifest: zero-to-jupyterhub checks it against its schema on install)
@pytest.mark.parametrize("name", ["grading-job.yaml", "grading-setup.yaml", "hub-exchange.yaml"])
def test_manifests_validate_against_kubernetes_schemas(name):
    validate = pytest.importorskip("kubernetes_validate", reason="pip install kubernetes-validate to check schemas")
    for doc in _docs(name):
        validate.validate(doc, "1.30", strict=True)


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
