"""The deployment files agree: compose, the Kubernetes base and the Procfile run the same
commands as deploy/README.md says, every variable they set is documented there, every compose
service is health-checked, media stay in a private bucket with secrets as files, and the image
runs as a non-root user."""

import json
import os
import re
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
PROCESSES = ("release", "web", "worker", "beat")
ONE_OFFS = ("media-bucket", "release")  # run to completion; the others wait for their success


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def k8s_base() -> list[dict]:
    kustomization = yaml.safe_load((DEPLOY / "k8s/base/kustomization.yaml").read_text())
    return [
        yaml.safe_load((DEPLOY / "k8s/base" / name).read_text())
        for name in kustomization["resources"]
    ]


def k8s_commands() -> dict[str, list[str]]:
    commands = {}
    for doc in k8s_base():
        if doc["kind"] in ("Deployment", "Job"):
            [container] = doc["spec"]["template"]["spec"]["containers"]
            commands[container["name"]] = container["command"]
    return commands


def readme_commands() -> dict[str, list[str]]:
    rows = re.findall(r"^\| (\w+) \| `([^`]+)` \|", (DEPLOY / "README.md").read_text(), re.M)
    return {name: shlex.split(command) for name, command in rows if name in PROCESSES}


def procfile() -> dict[str, list[str]]:
    lines = (DEPLOY / "Procfile").read_text().splitlines()
    pairs = (line.split(": ", 1) for line in lines if line and not line.startswith("#"))
    return dict(pairs)


def test_every_deployment_runs_the_documented_commands():
    documented = readme_commands()
    services = compose()["services"]

    assert set(documented) == set(PROCESSES)
    assert {name: services[name]["command"] for name in PROCESSES} == documented
    assert k8s_commands() == documented
    procfile_commands = procfile()
    for name in ("web", "worker", "beat"):
        assert shlex.split(procfile_commands[name]) == documented[name]
    assert shlex.join(documented["release"]) in procfile_commands["release"]
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert f"CMD {documented['web']}".replace("'", '"') in dockerfile


def test_every_variable_the_deployments_set_is_documented():
    readme = (DEPLOY / "README.md").read_text()
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", readme))
    used = set()
    for service in compose()["services"].values():
        used |= set(service.get("environment", {}))
    compose_text = (DEPLOY / "compose.yaml").read_text()
    used |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", compose_text))
    kustomizations = [DEPLOY / "k8s/base/kustomization.yaml"] + list(
        (DEPLOY / "k8s/overlays").glob("*/kustomization.yaml")
    )
    for path in kustomizations:
        for generator in yaml.safe_load(path.read_text()).get("configMapGenerator", []):
            used |= {literal.split("=", 1)[0] for literal in generator.get("literals", [])}
    used |= set(re.findall(r"^\s+([A-Z][A-Z0-9_]+)=", (DEPLOY / "Dockerfile").read_text(), re.M))
    # The postgres and MinIO images' own variables and the interpreter's are documented by them.
    used = {name for name in used if not name.startswith(("POSTGRES_", "MINIO_", "PYTHON"))}
    file_variables = {name for name in used if name.endswith("_FILE")}

    assert {name.removesuffix("_FILE") for name in file_variables} <= documented
    assert used - file_variables <= documented, used - file_variables - documented


def test_compose_checks_every_service_and_waits_for_health():
    services = compose()["services"]

    assert {name for name, service in services.items() if service.get("restart") == "no"} == set(
        ONE_OFFS
    )
    for name, service in services.items():
        check = service.get("healthcheck", {})
        assert check.get("test") or (name in ONE_OFFS and check == {"disable": True}), name
        for dependency, condition in service.get("depends_on", {}).items():
            wanted = (
                "service_completed_successfully" if dependency in ONE_OFFS else "service_healthy"
            )
            assert condition == {"condition": wanted}, (name, dependency)
    for name in ("web", "worker", "beat"):
        assert "release" in services[name]["depends_on"], name
    for name in PROCESSES:
        assert {"objects", "media-bucket", "pgbouncer", "redis"} <= set(
            services[name]["depends_on"]
        ), name
    assert services["media-bucket"]["depends_on"] == {"objects": {"condition": "service_healthy"}}
    assert "deploy" not in services["beat"]  # never scaled
    assert all("PASSWORD=" not in str(service) for service in services.values())


def test_compose_keeps_media_in_a_private_bucket_and_secrets_in_files():
    spec = compose()
    services, secrets = spec["services"], spec["secrets"]
    media = services["media-bucket"]["environment"]
    readme = (DEPLOY / "README.md").read_text()

    for name in PROCESSES:
        environment = services[name]["environment"]
        assert "volumes" not in services[name], name  # media in the bucket, not on a disk
        assert environment["MEDIA_S3_BUCKET"] == media["MEDIA_S3_BUCKET"], name
        assert environment["MEDIA_S3_ENDPOINT_URL"] == media["MEDIA_S3_ENDPOINT_URL"], name
        assert environment["MEDIA_S3_ENDPOINT_URL"].startswith("http://objects:"), name
        assert environment["MEDIA_S3_ADDRESSING"] == "path", name
        # The application's own limited key, never the store's root login.
        assert environment["AWS_ACCESS_KEY_ID_FILE"] == "/run/secrets/media_access_key", name
        assert environment["AWS_SECRET_ACCESS_KEY_FILE"] == "/run/secrets/media_secret_key", name
        assert not any(secret.startswith("objects_root") for secret in services[name]["secrets"])
    assert "ports" not in services["objects"]  # reachable from the compose network only
    assert {"MINIO_ROOT_USER_FILE", "MINIO_ROOT_PASSWORD_FILE"} <= set(
        services["objects"]["environment"]
    )

    used = set()
    for name, service in services.items():
        used |= set(service.get("secrets", []))
        for variable, value in service.get("environment", {}).items():
            # A secret is a file under /run/secrets that the service mounts, never a value here.
            if re.search(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY|ROOT_USER", variable):
                assert variable.endswith("_FILE"), (name, variable)
            assert not re.search(r"://[^/@]+@", str(value)), (name, variable)  # user:password@
            if variable.endswith("_FILE"):
                mounted = value.removeprefix("/run/secrets/")
                assert mounted in service.get("secrets", []), (name, variable)
    assert used == set(secrets)
    created = set(re.findall(r" > (\w+)$", readme, re.M))  # the compose recipe's files
    for name, secret in secrets.items():
        assert secret == {"file": f"./secrets/{name}"}, name
        assert name in created, f"deploy/README.md does not say how to make secrets/{name}"

    for name, service in services.items():
        image = service.get("image", "")
        if "build" not in service:  # every image from elsewhere at a fixed version
            assert re.search(r":[\w.-]+(@sha256:[0-9a-f]{64})?$", image), name
            assert not image.endswith(":latest"), name
    for name in ("objects", "media-bucket"):
        assert "@sha256:" in services[name]["image"], name  # upstream publishes no fixes now


def run_media_bucket(tmp_path, secrets: dict[str, str], *args: str):
    """deploy/objects/media-bucket.sh with compose's variables and a stand-in mc that records
    each call (its arguments, what it read on standard input, the policy file it was given)."""
    (tmp_path / "secrets").mkdir(exist_ok=True)
    for name, value in secrets.items():
        (tmp_path / "secrets" / name).write_text(value)
    (tmp_path / "bin").mkdir(exist_ok=True)
    recorder = tmp_path / "mc.py"
    recorder.write_text(
        "import json, os, sys\n"
        "args = sys.argv[1:]\n"
        "call = {'args': args}\n"
        "if args[:2] == ['alias', 'set']:\n"
        "    call['stdin'] = sys.stdin.read()\n"
        "if args[:3] == ['admin', 'policy', 'create']:\n"
        "    call['policy'] = json.load(open(args[5]))\n"
        "with open(os.environ['MC_CALLS'], 'a') as log:\n"
        "    log.write(json.dumps(call) + '\\n')\n"
    )
    mc = tmp_path / "bin" / "mc"  # a shell wrapper: a long interpreter path breaks a #! line
    mc.write_text(
        f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(recorder))} "$@"\n'
    )
    mc.chmod(mc.stat().st_mode | stat.S_IEXEC)
    calls = tmp_path / "calls.jsonl"
    (tmp_path / "tmp").mkdir(exist_ok=True)
    environment = {
        **compose()["services"]["media-bucket"]["environment"],
        "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "SECRETS_DIR": str(tmp_path / "secrets"),
        "TMPDIR": str(tmp_path / "tmp"),
        "MC_CALLS": str(calls),
    }
    script = DEPLOY / "objects" / "media-bucket.sh"
    result = subprocess.run(
        ["sh", str(script), *args],
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    recorded = (
        [json.loads(line) for line in calls.read_text().splitlines()] if calls.exists() else []
    )
    return result, recorded


MEDIA_SECRETS = {
    "objects_root_user": "0a1b2c3d4e5f60718293\n",
    "objects_root_password": "root-password-0123456789abcdef0123456789\n",
    "media_access_key": "9f8e7d6c5b4a39281706\n",
    "media_secret_key": "media-secret-0123456789abcdef0123456789\n",
}


def test_the_bucket_script_makes_a_private_bucket_and_a_key_limited_to_it(tmp_path):
    result, calls = run_media_bucket(tmp_path, MEDIA_SECRETS)
    bucket = compose()["services"]["media-bucket"]["environment"]["MEDIA_S3_BUCKET"]

    assert result.returncode == 0, result.stderr
    assert [call["args"][:3] for call in calls] == [
        ["alias", "set", "objects"],
        ["mb", "--ignore-existing", f"objects/{bucket}"],
        ["anonymous", "set", "none"],
        ["admin", "policy", "create"],
        ["admin", "user", "add"],
        ["admin", "policy", "attach"],
    ]
    alias, _, private, policy, user, attach = calls
    # The root login on standard input only: no process listing shows it.
    assert alias["args"] == ["alias", "set", "objects", "http://objects:9000"]
    assert alias["stdin"].splitlines() == [
        "0a1b2c3d4e5f60718293",
        "root-password-0123456789abcdef0123456789",
    ]
    assert not any("root-password" in " ".join(call["args"]) for call in calls)
    assert private["args"] == ["anonymous", "set", "none", f"objects/{bucket}"]
    assert user["args"] == [
        "admin", "user", "add", "objects",
        "9f8e7d6c5b4a39281706", "media-secret-0123456789abcdef0123456789",
    ]  # fmt: skip
    assert attach["args"] == [
        "admin", "policy", "attach", "objects", policy["args"][4], "--user", "9f8e7d6c5b4a39281706"
    ]  # fmt: skip
    statements = policy["policy"]["Statement"]
    actions = {action for statement in statements for action in statement["Action"]}
    resources = {resource for statement in statements for resource in statement["Resource"]}
    assert {statement["Effect"] for statement in statements} == {"Allow"}
    assert resources == {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}
    # What django-storages and saas/startup.py do, and nothing on the bucket itself.
    assert {"s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject"} <= actions
    assert all(action.startswith("s3:") and "*" not in action for action in actions)
    assert not any("Policy" in action or "Version" in action for action in actions)
    assert list((tmp_path / "tmp").iterdir()) == []  # the policy file is not left behind


def test_the_bucket_script_refuses_an_empty_secret_and_runs_a_given_command(tmp_path):
    result, calls = run_media_bucket(tmp_path, {**MEDIA_SECRETS, "objects_root_password": ""})

    assert result.returncode != 0
    assert "objects_root_password is missing or empty" in result.stderr
    assert calls == []  # MinIO would take an empty login as its well-known default one

    result, calls = run_media_bucket(
        tmp_path, MEDIA_SECRETS, "mirror", "objects/carebridge-media", "/backup"
    )
    assert result.returncode == 0, result.stderr
    assert calls[-1]["args"] == ["mirror", "objects/carebridge-media", "/backup"]
    assert len(calls) == 7


def test_kubernetes_probes_one_beat_and_non_root_pods():
    docs = {(doc["kind"], doc["metadata"]["name"]): doc for doc in k8s_base()}
    web = docs["Deployment", "carebridge-web"]["spec"]["template"]["spec"]
    beat = docs["Deployment", "carebridge-beat"]["spec"]

    assert web["containers"][0]["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["containers"][0]["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert (beat["replicas"], beat["strategy"]["type"]) == (1, "Recreate")
    assert ("PodDisruptionBudget", "carebridge-web") in docs
    assert ("HorizontalPodAutoscaler", "carebridge-web") in docs
    assert ("Job", "carebridge-release") in docs
    for (kind, name), doc in docs.items():
        if kind in ("Deployment", "Job"):
            pod = doc["spec"]["template"]["spec"]
            assert pod["securityContext"]["runAsNonRoot"] is True, name
            assert pod["containers"][0]["resources"]["requests"], name


def test_the_image_is_multi_stage_and_runs_as_a_non_root_user():
    dockerfile = (DEPLOY / "Dockerfile").read_text()

    assert len(re.findall(r"^FROM ", dockerfile, re.M)) >= 3
    assert re.search(r"^USER 10001", dockerfile, re.M)
    assert "npm ci" in dockerfile and "collectstatic" in dockerfile
    assert ".venv" in (ROOT / ".dockerignore").read_text().split()
