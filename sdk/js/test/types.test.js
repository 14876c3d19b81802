// index.d.ts against docs/openapi.json: every interface has exactly its schema's properties,
// optional exactly where the schema does not require them, with the TypeScript type the schema
// means. Run from the source tree (the description is at ../../docs/openapi.json, or
// $ISOL8_OPENAPI).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const spec = JSON.parse(readFileSync(process.env.ISOL8_OPENAPI ?? here + "../../../docs/openapi.json", "utf8"));
const schemas = spec.components.schemas;
const dts = readFileSync(here + "../index.d.ts", "utf8");

// interface name in index.d.ts -> schema name, where they differ
const rename = { SessionInfo: "Session" };
// schema name -> how index.d.ts spells a reference to it
const refName = { Session: "SessionInfo", EnvMap: "Record<string, string>", SessionId: "string" };

const union = (parts) => [...new Set(parts.flatMap((p) => p.split(" | ")))].sort().join(" | ");

function tsOf(s) {
  if (s.$ref) {
    const parts = s.$ref.replace(/^#\//, "").split("/");
    // A pointer into another schema's property: the type of that property.
    if (parts.length > 3) return tsOf(parts.reduce((o, k) => o[k], spec));
    const n = parts.pop();
    return refName[n] ?? n;
  }
  if (s.allOf && s.allOf.length === 1) return tsOf(s.allOf[0]);
  if (s.oneOf) return union(s.oneOf.map(tsOf));
  if ("const" in s) return JSON.stringify(s.const);
  if (s.enum) return union(s.enum.map((v) => JSON.stringify(v)));
  if (Array.isArray(s.type)) return union(s.type.map((t) => tsOf({ ...s, type: t })));
  switch (s.type) {
    case "string": return "string";
    case "integer": case "number": return "number";
    case "boolean": return "boolean";
    case "null": return "null";
    case "array": return tsOf(s.items) + "[]";
    case "object":
      return `Record<string, ${s.additionalProperties && typeof s.additionalProperties === "object" ? tsOf(s.additionalProperties) : "unknown"}>`;
    case undefined: return "unknown";
  }
  throw new Error("no TypeScript type for " + JSON.stringify(s));
}

function interfaces() {
  const out = {};
  for (const m of dts.matchAll(/export interface (\w+) \{\n([\s\S]*?)\n\}/g)) {
    const props = {};
    for (const line of m[2].split("\n")) {
      const p = line.trim().match(/^(\w+)(\?)?: (.+);$/);
      if (p) props[p[1]] = { optional: !!p[2], type: union([p[3]]) };
    }
    out[m[1]] = props;
  }
  return out;
}

const ifaces = interfaces();
const checked = ["ExecutionRequest", "Isol8Options", "NetworkFilter", "ExecutionResult", "Limits", "Timings",
  "NetworkLogEntry", "ResourceUsage", "StreamEvent", "FilesEventData", "SessionInfo"];

for (const name of checked) {
  test(`${name} matches components.schemas.${rename[name] ?? name}`, () => {
    const schema = schemas[rename[name] ?? name];
    const iface = ifaces[name];
    assert.ok(schema, "schema exists");
    assert.ok(iface, "interface exists in index.d.ts");
    assert.deepEqual(Object.keys(iface).sort(), Object.keys(schema.properties).sort(), "same properties");
    const required = new Set(schema.required ?? []);
    for (const [prop, sub] of Object.entries(schema.properties)) {
      assert.equal(iface[prop].optional, !required.has(prop), `${prop}: optional iff not required`);
      assert.equal(iface[prop].type, union([tsOf(sub)]), `${prop}: type`);
    }
  });
}

test("Runtime and Size aliases match their schemas", () => {
  const alias = (n) => union([dts.match(new RegExp(`export type ${n} = (.+);`))[1]]);
  assert.equal(alias("Runtime"), tsOf(schemas.Runtime));
  assert.equal(alias("Size"), tsOf(schemas.Size));
});

test("every checked interface is in the description and none is forgotten", () => {
  assert.deepEqual(Object.keys(ifaces).filter((n) => n !== "RemoteIsol8Options").sort(), [...checked].sort());
});
