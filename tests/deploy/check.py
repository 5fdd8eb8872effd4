"""Offline checks of the deployment files (no Docker engine or cluster here).

    python tests/deploy/check.py --bin path/to/traceledger [--root .]

- docker-compose.yml validates against the compose specification's JSON
  schema (the copy PyPI's docker-compose 1.29.2 ships), and every service
  has a health check or runs once.
- deploy/k8s/*.yaml validate, strictly (no unknown field), against the
  Kubernetes 1.31 OpenAPI schemas (PyPI's kubernetes-validate); every
  container has resource requests and probes, runs as non-root without
  privilege escalation, and every workload has a PodDisruptionBudget; the
  sequencer's replicas match the config's `instances`.
- Every traceledger command line — a compose service's `command` with its
  `environment`, a container's `args` with its env and the ConfigMap's
  config file — parses as a run would parse it (`traceledger config args`).
- The Dockerfile is multi-stage and its last stage runs as a non-root user.
- Each validator refuses a broken copy, so a check that cannot fail fails.

Prints one line per check; exits 1 on the first failure set.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import tomllib
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

K8S_VERSION = "1.31.0"
failures: list[str] = []


def check(ok: bool, what: str, detail: str = "") -> None:
    print(("ok    " if ok else "FAIL  ") + what + (f": {detail}" if detail and not ok else ""))
    if not ok:
        failures.append(what)


def compose_schema() -> dict[str, Any]:
    # The schema file only; the docker-compose package itself (and its
    # dependencies) is not installed, so it is found by path, not imported.
    import importlib.util

    spec = importlib.util.find_spec("compose")
    assert spec and spec.submodule_search_locations, "docker-compose (schema) is not installed"
    path = pathlib.Path(next(iter(spec.submodule_search_locations))) / "config" / "compose_spec.json"
    return json.loads(path.read_text())


def compose_errors(doc: Any, schema: dict[str, Any]) -> list[str]:
    v = jsonschema.Draft7Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(doc)]


def parses(bin_: str, argv: list[str], env: dict[str, str], what: str) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TRACELEDGER_")}
    clean.update(env)
    o = subprocess.run(
        [bin_, "config", "args", "--json", "--", *argv], env=clean, capture_output=True, text=True, timeout=60
    )
    try:
        ans = json.loads(o.stdout)
    except json.JSONDecodeError:
        ans = {"ok": False, "error": o.stdout + o.stderr}
    check(o.returncode == 0 and ans.get("ok") is True, f"{what}: `traceledger {' '.join(argv)}` parses", ans.get("error", ""))


def check_compose(root: pathlib.Path, bin_: str) -> None:
    doc = yaml.safe_load((root / "docker-compose.yml").read_text())
    schema = compose_schema()
    errors = compose_errors(doc, schema)
    check(not errors, "docker-compose.yml conforms to the compose specification", "; ".join(errors[:5]))
    broken = copy.deepcopy(doc)
    broken["services"]["sequencer"]["healthcheck"]["intervall"] = "5s"
    check(bool(compose_errors(broken, schema)), "the compose schema refuses an unknown key")

    services = doc["services"]
    for name in ("redpanda", "topics", "sequencer", "api"):
        check(name in services, f"compose has the {name} service")
    for name, s in services.items():
        once = s.get("restart") == "no"
        check(once or "healthcheck" in s, f"compose {name}: a health check (or it runs once)")
        for dep, cond in (s.get("depends_on") or {}).items():
            check(dep in services, f"compose {name}: depends on a service that exists ({dep})")
            c = cond.get("condition")
            if c == "service_healthy":
                check("healthcheck" in services[dep], f"compose {name}: waits for {dep}'s health check")
        for vol in s.get("volumes", []):
            src = vol.split(":")[0]
            if not src.startswith((".", "/")):
                check(src in (doc.get("volumes") or {}), f"compose {name}: named volume {src} is declared")
        if s.get("image", "").startswith("traceledger"):
            env = {k: str(v) for k, v in (s.get("environment") or {}).items()}
            parses(bin_, [str(a) for a in s["command"]], env, f"compose {name}")
    # The command check itself must be able to fail.
    o = subprocess.run([bin_, "config", "args", "--", "sequencer", "--htp", "x"], capture_output=True, text=True)
    check(o.returncode == 2 and "--htp" in o.stderr, "a bad command line is refused")


def containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def check_k8s(root: pathlib.Path, bin_: str) -> None:
    docs: list[tuple[str, dict[str, Any]]] = []
    for f in sorted((root / "deploy" / "k8s").glob("*.yaml")):
        for d in yaml.safe_load_all(f.read_text()):
            if d:
                docs.append((f.name, d))
    check(bool(docs), "deploy/k8s has manifests")
    for fname, d in docs:
        what = f"{fname}: {d['kind']}/{d['metadata']['name']}"
        try:
            kubernetes_validate.validate(d, K8S_VERSION, strict=True)
            check(True, f"{what} validates against Kubernetes {K8S_VERSION} (strict)")
        except kubernetes_validate.ValidationError as e:
            check(False, f"{what} validates against Kubernetes {K8S_VERSION} (strict)", str(e))
    bad = copy.deepcopy(next(d for _, d in docs if d["kind"] == "StatefulSet"))
    bad["spec"]["template"]["spec"]["containers"][0]["resource"] = {}
    try:
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)
        check(False, "the Kubernetes schema refuses an unknown field")
    except kubernetes_validate.ValidationError:
        check(True, "the Kubernetes schema refuses an unknown field")

    config = {
        k: v
        for _, d in docs
        if d["kind"] == "ConfigMap"
        for k, v in d.get("data", {}).items()
    }
    pdbs = [d for _, d in docs if d["kind"] == "PodDisruptionBudget"]
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in config.items():
            (pathlib.Path(tmp) / name).write_text(text)
        for fname, d in docs:
            if d["kind"] not in ("StatefulSet", "Deployment"):
                continue
            wname = d["metadata"]["name"]
            labels = d["spec"]["selector"]["matchLabels"]
            covered = any(p["spec"]["selector"]["matchLabels"].items() <= labels.items() for p in pdbs)
            check(covered, f"{wname}: a PodDisruptionBudget covers it")
            pod = d["spec"]["template"]["spec"]
            psc = pod.get("securityContext", {})
            for c in containers(pod):
                cw = f"{wname}/{c['name']}"
                sc = c.get("securityContext", {})
                check(bool(c.get("resources", {}).get("requests")), f"{cw}: resource requests")
                check(psc.get("runAsNonRoot") is True, f"{cw}: runs as non-root")
                check(sc.get("allowPrivilegeEscalation") is False, f"{cw}: no privilege escalation")
            for c in pod["containers"]:
                cw = f"{wname}/{c['name']}"
                for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                    check(probe in c, f"{cw}: {probe}")
                env = {e["name"]: e["value"] for e in c.get("env", []) if "value" in e}
                if "TRACELEDGER_CONFIG" in env:
                    cfg = pathlib.Path(env["TRACELEDGER_CONFIG"])
                    check(cfg.name in config, f"{cw}: its config file is in the ConfigMap")
                    env["TRACELEDGER_CONFIG"] = str(pathlib.Path(tmp) / cfg.name)
                parses(bin_, [*c.get("command", [])[1:], *c.get("args", [])], env, cw)
                if c.get("args", [None])[0] == "sequencer":
                    cfg = tomllib.loads(config["traceledger.toml"])
                    shard = cfg.get("sequencer", {}).get("instances", cfg.get("instances", 1))
                    replicas = d["spec"].get("replicas", 1)
                    check(shard == replicas, f"{cw}: replicas ({replicas}) = instances in the config ({shard})")
                    parts = cfg.get("sequencer", {}).get("partitions", cfg.get("partitions", 2))
                    check(replicas <= parts, f"{cw}: no more replicas than partitions ({parts})")
                    index_env = [e for e in c.get("env", []) if e["name"] == "TRACELEDGER_INSTANCE_INDEX"]
                    check(bool(index_env), f"{cw}: each pod's instance index comes from its ordinal")
                if c.get("args", [None])[0] == "project":
                    cfg = tomllib.loads(config["traceledger.toml"])
                    shard = cfg.get("project", {}).get("instances", 1)
                    replicas = d["spec"].get("replicas", 1)
                    check(shard == replicas, f"{cw}: replicas ({replicas}) = [project] instances ({shard})")
                    if replicas > 1:
                        peers = cfg.get("project", {}).get("peers", [])
                        check(len(peers) == replicas, f"{cw}: [project] peers names every pod ({len(peers)})")
                        for i, peer in enumerate(peers):
                            pod = f"{d['metadata']['name']}-{i}.{d['spec']['serviceName']}."
                            check(f"//{pod}" in peer, f"{cw}: peer {i} is pod {i} of the StatefulSet ({peer})")
                        index_env = [e for e in c.get("env", []) if e["name"] == "TRACELEDGER_INSTANCE_INDEX"]
                        check(bool(index_env), f"{cw}: each pod's instance index comes from its ordinal")


def check_dockerfile(root: pathlib.Path) -> None:
    lines = [ln.strip() for ln in (root / "Dockerfile").read_text().splitlines()]
    froms = [ln for ln in lines if ln.upper().startswith("FROM ")]
    check(len(froms) >= 2, "Dockerfile is multi-stage")
    last = lines[lines.index(froms[-1]) :]
    users = [ln.split()[1] for ln in last if ln.upper().startswith("USER ")]
    check(bool(users) and users[-1].split(":")[0] not in ("root", "0"), "Dockerfile's last stage runs as non-root")
    check(any(ln.startswith("COPY --from=") for ln in last), "the last stage copies only the built binary")
    check(any(ln.startswith("ENTRYPOINT") and "traceledger" in ln for ln in last), "the image's entrypoint is traceledger")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--root", default=str(pathlib.Path(__file__).resolve().parents[2]))
    a = ap.parse_args()
    root = pathlib.Path(a.root)
    check_compose(root, a.bin)
    check_k8s(root, a.bin)
    check_dockerfile(root)
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("deployment files: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
