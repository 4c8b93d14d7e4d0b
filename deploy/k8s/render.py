"""Renders a kustomization (deploy/k8s/base or an overlay) to one YAML stream, for machines without
`kubectl kustomize` (this one: kubectl is not in Debian's archive): the subset Cuepoint's overlays use —
resources (files and directories), namespace, images, replicas and JSON 6902 patches with a kind/name
target. Anything else in a kustomization is refused rather than ignored.

    .venv/bin/python deploy/k8s/render.py deploy/k8s/overlays/production > cuepoint.yaml
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import yaml

KNOWN = {"apiVersion", "kind", "resources", "namespace", "images", "replicas", "patches"}
# Kinds that live outside namespaces (none in base today; listed so a namespace is never forced on one).
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}


def render(directory: Path) -> list[dict[str, Any]]:
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(spec) - KNOWN
    if unknown:
        raise ValueError(f"{directory}: render.py does not implement {sorted(unknown)}; use kubectl kustomize")
    docs: list[dict[str, Any]] = []
    for entry in spec.get("resources", []):
        path = directory / entry
        docs += render(path) if path.is_dir() else [d for d in yaml.safe_load_all(path.read_text()) if d]
    for patch in spec.get("patches", []):
        target = patch["target"]
        matched = [d for d in docs if d["kind"] == target["kind"] and d["metadata"]["name"] == target["name"]]
        if not matched:
            raise ValueError(f"{directory}: patch target {target} matches nothing")
        for doc in matched:
            for op in yaml.safe_load(patch["patch"]):
                _apply(doc, op)
    for change in spec.get("replicas", []):
        for doc in docs:
            if doc["metadata"]["name"] == change["name"] and doc["kind"] in ("Deployment", "StatefulSet"):
                doc["spec"]["replicas"] = change["count"]
    images = {image["name"]: image for image in spec.get("images", [])}
    for doc in docs:
        for pod in _pod_specs(doc):
            for c in [*pod.get("initContainers", []), *pod.get("containers", [])]:
                name, _, tag = c["image"].partition(":")
                if name in images:
                    c["image"] = f"{images[name].get('newName', name)}:{images[name].get('newTag', tag)}"
        if "namespace" in spec and doc["kind"] not in CLUSTER_SCOPED:
            doc["metadata"]["namespace"] = spec["namespace"]
    return docs


def _pod_specs(doc: dict[str, Any]) -> list[dict[str, Any]]:
    template = doc.get("spec", {}).get("template", {})
    return [template["spec"]] if "spec" in template else []


def _apply(doc: dict[str, Any], op: dict[str, Any]) -> None:
    *parents, last = [part.replace("~1", "/").replace("~0", "~") for part in op["path"].lstrip("/").split("/")]
    node: Any = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key: Any = int(last) if isinstance(node, list) and last != "-" else last
    if op["op"] in ("replace", "add"):
        if isinstance(node, list) and (op["op"] == "add"):
            node.insert(len(node) if key == "-" else key, copy.deepcopy(op["value"]))
        else:
            if op["op"] == "replace" and (key not in node if isinstance(node, dict) else key >= len(node)):
                raise ValueError(f"replace {op['path']}: nothing there")
            node[key] = copy.deepcopy(op["value"])
    elif op["op"] == "remove":
        del node[key]
    else:
        raise ValueError(f"JSON patch op {op['op']} not implemented")


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    yaml.safe_dump_all(render(Path(sys.argv[1])), sys.stdout, sort_keys=False, width=120)
    return 0


if __name__ == "__main__":
    sys.exit(main())
