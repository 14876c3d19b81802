#!/usr/bin/env python3
"""schema_check.py SCHEMA FILE...: one line per FILE, "valid" or "invalid: <first error>", and
exit 0. `schema_check.py --examples DOC...` prints the JSON examples of README.md (```json
blocks) and the man pages (.nf/.fi blocks that are a JSON object) one a line as
"<kind> <doc>:<line> <json>", kind "config" or "policy" (by their keys), "other" otherwise."""
import json
import re
import sys

import jsonschema

CONFIG_KEYS = {"$schema", "maxConcurrent", "defaults", "network", "cleanup", "dependencies", "security",
               "poolStrategy", "poolSize", "remoteCode", "audit", "auth", "prebuiltImages", "debug"}


def roff_text(s):
    for a, b in (("\\e", "\\"), ("\\(dq", '"'), ("\\(aq", "'"), ("\\-", "-"), ("\\&", ""), ("\\(en", "-")):
        s = s.replace(a, b)
    return s


def blocks(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    if path.endswith(".md"):
        i = 0
        while i < len(lines):
            if lines[i].strip() == "```json":
                j = i + 1
                while j < len(lines) and lines[j].strip() != "```":
                    j += 1
                yield i + 1, "\n".join(lines[i + 1:j])
                i = j
            i += 1
        return
    i = 0
    while i < len(lines):
        if lines[i].startswith(".nf"):
            j = i + 1
            while j < len(lines) and not lines[j].startswith(".fi"):
                j += 1
            body = "\n".join(roff_text(line) for line in lines[i + 1:j] if not line.startswith("."))
            if body.lstrip().startswith("{"):
                yield i + 1, body
            i = j
        i += 1


def main():
    if sys.argv[1] == "--examples":
        for doc in sys.argv[2:]:
            for line, text in blocks(doc):
                try:
                    obj = json.loads(text)
                except ValueError as e:
                    print("broken %s:%d %s" % (doc, line, str(e).replace("\n", " ")))
                    continue
                kind = "policy" if "tenants" in obj else "config" if set(obj) <= CONFIG_KEYS else "other"
                print("%s %s:%d %s" % (kind, doc, line, json.dumps(obj, separators=(",", ":"))))
        return
    schema = json.load(open(sys.argv[1]))
    jsonschema.Draft202012Validator.check_schema(schema)
    v = jsonschema.Draft202012Validator(schema)
    for f in sys.argv[2:]:
        try:
            doc = json.load(open(f))
        except ValueError as e:
            print("invalid: not JSON: %s" % e)
            continue
        err = jsonschema.exceptions.best_match(v.iter_errors(doc))
        print("valid" if err is None else "invalid: %s: %s" % ("/".join(map(str, err.absolute_path)), err.message))


main()
