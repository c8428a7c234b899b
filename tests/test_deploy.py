"""The deployment files agree: compose, the Kubernetes base and the Procfile run the same
commands as deploy/README.md says, every variable they set is documented there, every compose
service is health-checked, and the image runs as a non-root user."""

import re
import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
PROCESSES = ("release", "web", "worker", "beat")


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
    # The postgres image's own variables and the interpreter's are documented by them.
    used = {name for name in used if not name.startswith(("POSTGRES_", "PYTHON"))}
    file_variables = {name for name in used if name.endswith("_FILE")}

    assert {name.removesuffix("_FILE") for name in file_variables} <= documented
    assert used - file_variables <= documented, used - file_variables - documented


def test_compose_checks_every_service_and_waits_for_health():
    services = compose()["services"]

    for name, service in services.items():
        check = service.get("healthcheck", {})
        assert check.get("test") or (name == "release" and check == {"disable": True}), name
        for dependency, condition in service.get("depends_on", {}).items():
            assert condition["condition"] in (
                "service_healthy",
                "service_completed_successfully",
            ), (name, dependency)
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["release"] == {
            "condition": "service_completed_successfully"
        }
    assert "deploy" not in services["beat"]  # never scaled
    assert all("PASSWORD=" not in str(service) for service in services.values())


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
