#!/usr/bin/env python3
"""Stand-in for an LLM provider (the Anthropic Messages API, POST /v1/messages with stream=true),
for tests/integration/agent_runtime_test.sh: the real provider is not reachable from the test
machine, and a scripted one makes the agent's run exact.

    llm_standin.py BIND PORT LOG KEY EDIT_PATH OLD NEW

A request without a tool result gets one `edit` tool call (EDIT_PATH: OLD -> NEW); a request
that carries the tool's result gets a final text that quotes the key it was sent (the test
checks that isol8 masks it). A wrong key or path gets Anthropic's 401. Each request is one JSON
line in LOG: path, key, model, tool names, the tool result, the user prompt, the system prompt."""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

bind, port, log_path, key, edit_path, old, new = sys.argv[1:8]


def sse(events):
    return b"".join(b"event: " + e["type"].encode() + b"\ndata: " + json.dumps(e).encode() + b"\n\n"
                    for e in events)


def message(block, delta, stop):
    start = {"type": "message_start", "message": {
        "id": "msg_standin", "type": "message", "role": "assistant", "model": "standin", "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 1}}}
    return sse([start,
                {"type": "content_block_start", "index": 0, "content_block": block},
                {"type": "content_block_delta", "index": 0, "delta": delta},
                {"type": "content_block_stop", "index": 0},
                {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                 "usage": {"output_tokens": 5}},
                {"type": "message_stop"}])


def text_of(content):
    if isinstance(content, str):
        return content
    return "".join(c.get("text", "") for c in content if isinstance(c, dict))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        msgs = body.get("messages", [])
        results = [c for m in msgs if isinstance(m.get("content"), list) for c in m["content"]
                   if isinstance(c, dict) and c.get("type") == "tool_result"]
        got_key = self.headers.get("x-api-key")
        with open(log_path, "a") as f:
            f.write(json.dumps({
                "path": self.path, "key": got_key, "model": body.get("model"), "stream": body.get("stream"),
                "tools": sorted(t.get("name", "") for t in body.get("tools", [])),
                "toolResult": text_of(results[0]["content"]) if results else None,
                "prompt": text_of(msgs[0]["content"]) if msgs else None,
                "system": text_of(body.get("system", ""))}) + "\n")
        if self.path != "/v1/messages" or got_key != key:
            data = json.dumps({"type": "error", "error": {"type": "authentication_error",
                                                          "message": "invalid x-api-key"}}).encode()
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
        elif not results:
            edit = {"path": edit_path, "edits": [{"oldText": old, "newText": new}]}
            data = message({"type": "tool_use", "id": "toolu_standin_1", "name": "edit", "input": {}},
                           {"type": "input_json_delta", "partial_json": json.dumps(edit)}, "tool_use")
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
        else:
            data = message({"type": "text", "text": ""},
                           {"type": "text_delta", "text": "Done: the notes are reviewed (key %s)." % got_key},
                           "end_turn")
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)


ThreadingHTTPServer((bind, int(port)), Handler).serve_forever()
