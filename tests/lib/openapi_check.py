#!/usr/bin/env python3
"""Check recorded HTTP answers against docs/openapi.json (python3-jsonschema).

usage: openapi_check.py SPEC LOG

LOG holds one JSON object per line, written by the tests as they go:
  {"kind": "http", "method": "GET", "path": "/sessions?x=1", "status": 200,
   "ctype": "application/json", "body": "..."}
  {"kind": "sse", "body": "{...}"}        one data: line's JSON of /execute/stream
  {"kind": "ws", "body": "{...}"}         one text message the server sent on /execute/ws

Every answer must be one the description lists for its path, method and status, with a body
that validates against that response's schema (an event stream: every data line against
x-sse-data). A path the description does not have must be a 404 with the Error body, a known
path with another method a 405. Prints one "FAIL ..." line per mismatch, then
"checked N answers and M events"; exit status 1 when anything failed.
"""
import json
import re
import sys
import warnings

import jsonschema

warnings.simplefilter("ignore", DeprecationWarning)


def main():
    spec = json.load(open(sys.argv[1]))
    # The description itself: every component schema is a valid 2020-12 schema.
    for name, sch in spec["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(sch)
    resolver = jsonschema.RefResolver.from_schema(spec)
    fails = []
    answers = events = 0

    def deref(obj):
        while isinstance(obj, dict) and "$ref" in obj:
            obj = resolver.resolve(obj["$ref"])[1]
        return obj

    def validate(schema, text, where):
        try:
            doc = json.loads(text)
        except ValueError as e:
            fails.append("%s: body is not JSON (%s): %.200r" % (where, e, text))
            return
        v = jsonschema.Draft202012Validator(schema, resolver=resolver)
        errs = sorted(v.iter_errors(doc), key=lambda e: list(e.path))
        for e in errs[:3]:
            fails.append("%s: %s at %s" % (where, e.message[:300], "/".join(str(p) for p in e.path) or "(root)"))

    templates = []
    for tmpl in spec["paths"]:
        rx = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(tmpl)) + "$"
        templates.append((re.compile(rx), tmpl))

    event_schema = spec["components"]["schemas"]["StreamEvent"]
    for n, line in enumerate(open(sys.argv[2]), 1):
        if not line.strip():
            continue
        rec = json.loads(line)
        if rec["kind"] in ("sse", "ws"):
            events += 1
            validate(event_schema, rec["body"], "%s event %d" % (rec["kind"], n))
            continue
        answers += 1
        method, path, status = rec["method"].lower(), rec["path"].split("?", 1)[0], str(rec["status"])
        where = "%s %s -> %s" % (rec["method"], rec["path"][:80], status)
        tmpl = next((t for rx, t in templates if rx.match(path)), None)
        error_schema = spec["components"]["schemas"]["Error"]
        if tmpl is None or method not in spec["paths"][tmpl]:
            want = "404" if tmpl is None else "405"
            if status != want:
                fails.append("%s: not in the description, expected %s" % (where, want))
            else:
                validate(error_schema, rec["body"], where)
            continue
        op = spec["paths"][tmpl][method]
        resp = op["responses"].get(status)
        if resp is None:
            fails.append("%s: status not listed for this operation" % where)
            continue
        resp = deref(resp)
        content = resp.get("content")
        if not content:
            continue
        ctype = (rec.get("ctype") or "").split(";", 1)[0].strip()
        if ctype not in content:
            fails.append("%s: content type %r, described %s" % (where, ctype, sorted(content)))
            continue
        media = content[ctype]
        if ctype == "application/json":
            validate(media["schema"], rec["body"], where)
        elif ctype == "text/event-stream":
            for ln in rec["body"].split("\n"):
                if ln.startswith("data: "):
                    events += 1
                    validate(media["x-sse-data"], ln[6:], where + " event")
                elif ln and not ln.startswith(":"):
                    fails.append("%s: stray line in the event stream: %.100r" % (where, ln))
    for f in fails:
        print("FAIL " + f)
    print("checked %d answers and %d events" % (answers, events))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
