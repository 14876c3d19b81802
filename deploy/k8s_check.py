#!/usr/bin/env python3
"""Offline structural check of deploy/kubernetes/*.yaml (no cluster, no kubectl).

Usage: k8s_check.py FILE.yaml... POLICY_OUT

Every document must parse and carry apiVersion, kind and metadata.name (a DNS-1123 name); the
objects must refer to each other: the DaemonSet's selector matches its template's labels, every
Service selects the DaemonSet's pods and targets a port its containers name, every volume's
ConfigMap and Secret exists and every secretKeyRef names a key of its Secret; the DaemonSet
mounts the host's Docker socket and has a /health readiness probe; the policy is JSON (written
to POLICY_OUT for isol8d --check-policy)."""
import json
import re
import sys

import yaml

KNOWN = {("v1", "Namespace"), ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Service"), ("apps/v1", "DaemonSet")}
NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
errors = []


def need(cond, msg):
    if not cond:
        errors.append(msg)
    return cond


def main():
    *files, policy_out = sys.argv[1:]
    objs = []
    for f in files:
        try:
            docs = [d for d in yaml.safe_load_all(open(f)) if d is not None]
        except yaml.YAMLError as e:
            errors.append("%s: %s" % (f, e))
            continue
        for d in docs:
            where = "%s: %s/%s" % (f, d.get("kind") if isinstance(d, dict) else "?",
                                   (d.get("metadata") or {}).get("name") if isinstance(d, dict) else "?")
            if not need(isinstance(d, dict), "%s: not a mapping" % f):
                continue
            need((d.get("apiVersion"), d.get("kind")) in KNOWN, "%s: unknown apiVersion/kind %s/%s" %
                 (where, d.get("apiVersion"), d.get("kind")))
            name = (d.get("metadata") or {}).get("name", "")
            need(isinstance(name, str) and NAME.match(name), "%s: metadata.name must be a DNS-1123 name" % where)
            objs.append((where, d))
    by_kind = {}
    for where, d in objs:
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = (where, d)
    ds_all = by_kind.get("DaemonSet", {})
    need(len(ds_all) == 1, "expected one DaemonSet, found %d" % len(ds_all))
    cms, secrets = by_kind.get("ConfigMap", {}), by_kind.get("Secret", {})
    for where, cm in cms.values():
        if "policy.json" in (cm.get("data") or {}):
            try:
                json.loads(cm["data"]["policy.json"])
                open(policy_out, "w").write(cm["data"]["policy.json"])
            except ValueError as e:
                errors.append("%s: policy.json is not JSON: %s" % (where, e))
    need(any("policy.json" in (cm.get("data") or {}) for _, cm in cms.values()), "no ConfigMap holds policy.json")
    for where, ds in ds_all.values():
        spec = ds.get("spec") or {}
        tmpl = spec.get("template") or {}
        labels = (tmpl.get("metadata") or {}).get("labels") or {}
        sel = (spec.get("selector") or {}).get("matchLabels") or {}
        need(sel and all(labels.get(k) == v for k, v in sel.items()), "%s: selector does not match the template" % where)
        pod = tmpl.get("spec") or {}
        containers = pod.get("containers") or []
        need(containers, "%s: no containers" % where)
        vols = {v.get("name"): v for v in pod.get("volumes") or []}
        ports = set()
        for c in containers:
            cw = "%s container %s" % (where, c.get("name"))
            need(c.get("image"), "%s: no image" % cw)
            for m in c.get("volumeMounts") or []:
                need(m.get("name") in vols, "%s: mounts unknown volume %s" % (cw, m.get("name")))
            for p in c.get("ports") or []:
                need(isinstance(p.get("containerPort"), int), "%s: containerPort must be an integer" % cw)
                ports.add(p.get("name"))
            for e in c.get("env") or []:
                ref = ((e.get("valueFrom") or {}).get("secretKeyRef")) or None
                if ref:
                    s = secrets.get(ref.get("name"))
                    if need(s, "%s: env %s: no Secret %s" % (cw, e.get("name"), ref.get("name"))):
                        data = dict(s[1].get("stringData") or {}, **(s[1].get("data") or {}))
                        need(ref.get("key") in data, "%s: env %s: Secret %s has no key %s" %
                             (cw, e.get("name"), ref.get("name"), ref.get("key")))
            rp = c.get("readinessProbe")
            if rp:
                need((rp.get("httpGet") or {}).get("path") == "/health", "%s: readiness probe is not GET /health" % cw)
        need(any(c.get("readinessProbe") for c in containers), "%s: no readiness probe" % where)
        for name, v in vols.items():
            if "configMap" in v:
                need(v["configMap"].get("name") in cms, "%s: volume %s: no ConfigMap %s" % (where, name, v["configMap"].get("name")))
            if "secret" in v:
                need(v["secret"].get("secretName") in secrets, "%s: volume %s: no Secret %s" % (where, name, v["secret"].get("secretName")))
        need(any((v.get("hostPath") or {}).get("path") == "/var/run/docker.sock" for v in vols.values()),
             "%s: the host's Docker socket is not mounted" % where)
        for swhere, svc in by_kind.get("Service", {}).values():
            ss = svc.get("spec") or {}
            need(ss.get("selector") and all(labels.get(k) == v for k, v in ss["selector"].items()),
                 "%s: selects no isol8 pod" % swhere)
            for p in ss.get("ports") or []:
                tp = p.get("targetPort")
                need(isinstance(tp, int) or tp in ports, "%s: targetPort %s is no container port" % (swhere, tp))
        namespaces = {d["metadata"].get("namespace") for _, d in objs if d["kind"] != "Namespace"}
        need(len(namespaces) == 1, "objects are in several namespaces: %s" % sorted(map(str, namespaces)))
    for e in errors:
        print(e, file=sys.stderr)
    if not errors:
        print("%d objects: %s" % (len(objs), ", ".join(sorted("%s/%s" % (d["kind"], d["metadata"]["name"]) for _, d in objs))))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
