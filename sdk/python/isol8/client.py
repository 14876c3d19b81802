"""RemoteIsol8: the original's remote engine over isol8's HTTP API (standard library only)."""
from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, Iterator, List, Optional, Union

from .errors import Isol8Error, error_for
from .types import ExecutionRequest, ExecutionResult, SessionInfo, StreamEvent
from .ws import HandshakeRefused, WebSocket, WebSocketError

RequestLike = Union[ExecutionRequest, Dict[str, Any], None]
TRANSPORTS = ("auto", "ws", "sse")
# Answers to the upgrade that mean "no WebSocket here" (an older server, a proxy that does not
# pass upgrades): auto falls back to SSE and stops trying.
_WS_NOT_OFFERED = (404, 405, 426, 501)


class RemoteIsol8:
    """A client of one `isol8 serve`.

    host: base URL ("http://127.0.0.1:3000"); api_key: the bearer key (default
    $ISOL8_API_KEY); session_id: run everything in that persistent session (created by the
    first run; stop() deletes it); options: engine options sent with every run
    (networkFilter, memoryLimit, ... as in the API, bounded by the key's policy);
    timeout: seconds to wait for any one read from the server;
    transport: how execute_stream streams: "ws" (GET /execute/ws), "sse" (POST /execute/stream)
    or "auto" (the default: WebSocket, and SSE when the server does not offer it).
    """

    def __init__(self, host: str, api_key: Optional[str] = None, *, session_id: Optional[str] = None,
                 options: Optional[Dict[str, Any]] = None, timeout: float = 300.0, transport: str = "auto") -> None:
        if not host.startswith(("http://", "https://")):
            raise ValueError("host must be an http:// or https:// URL, got %r" % host)
        if transport not in TRANSPORTS:
            raise ValueError("transport must be one of %s, got %r" % (", ".join(TRANSPORTS), transport))
        self.host = host.rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("ISOL8_API_KEY")
        self.session_id = session_id
        self.options = options
        self.timeout = timeout
        self.transport = transport
        # What the last execute_stream used ("ws" or "sse"); None before the first.
        self.last_transport: Optional[str] = None
        self._ws_available: Optional[bool] = None
        self.version: Optional[str] = None
        # Behind a balancer (several nodes): the node that answered each session's first request,
        # echoed as X-Isol8-Node so that another node refuses it instead of starting afresh.
        self.nodes: Dict[str, str] = {}

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Check that the server answers (GET /health)."""
        try:
            body = self._call("GET", "/health", what="Remote server health check failed", auth=False)
        except Isol8Error as e:
            raise Isol8Error("Remote server health check failed: %s" % (e.status or e), status=e.status,
                             error=e.error) from e
        self.version = body.get("version") if isinstance(body, dict) else None

    def stop(self) -> None:
        """Delete the session, when there is one (idempotent on the server)."""
        if self.session_id:
            self.delete_session(self.session_id)

    def __enter__(self) -> "RemoteIsol8":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---- running code ----------------------------------------------------------------------
    def execute(self, request: RequestLike = None, **fields: Any) -> ExecutionResult:
        """Run code and return the whole result: execute(code="print(1)", runtime="python") or
        execute(ExecutionRequest(...)). A program's failure is a result with its exit code;
        a refused or broken request raises Isol8Error."""
        body = self._call("POST", "/execute", self._envelope(request, fields), what="Execution failed",
                          session=self.session_id)
        return ExecutionResult.from_json(body)

    def execute_stream(self, request: RequestLike = None, **fields: Any) -> Iterator[StreamEvent]:
        """Run code and yield StreamEvents as the program writes: stdout and stderr chunks (with
        their phase), then exit (or error). Over a WebSocket or Server-Sent Events (the
        transport option); the events are the same either way. A request the server refuses
        raises Isol8Error before any event; leaving the loop early stops the program."""
        env = self._envelope(request, fields)
        if self.transport == "ws" or (self.transport == "auto" and self._ws_available is not False):
            ws = self._ws_open(fallback=self.transport == "auto")
            if ws is not None:
                self.last_transport = "ws"
                yield from self._ws_events(ws, env)
                return
        resp = self._open("POST", "/execute/stream", env, what="Execution failed", session=self.session_id)
        self.last_transport = "sse"
        yield from self._sse_events(resp)

    @staticmethod
    def _sse_events(resp: Any) -> Iterator[StreamEvent]:
        with resp:
            for raw in resp:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if line.startswith("data: "):
                    yield StreamEvent.from_json(json.loads(line[6:]))

    def _ws_open(self, fallback: bool) -> Optional[WebSocket]:
        """The upgrade to GET /execute/ws, or None (fallback only) when the server does not offer
        it. Statuses that SSE would answer too (401, 403, 429, ...) raise as SSE's would."""
        what = "Execution failed"
        headers = self._headers(session=self.session_id)
        try:
            ws = WebSocket.connect(self.host + "/execute/ws", headers, self.timeout)
        except HandshakeRefused as e:
            if fallback and e.status in _WS_NOT_OFFERED:
                self._ws_available = False
                return None
            raise self._status_error(e.status, e.body, what) from None
        except WebSocketError as e:
            if fallback:
                self._ws_available = False
                return None
            raise Isol8Error("%s: %s" % (what, e)) from None
        except OSError as e:
            # SSE goes through urllib, which may reach the server where a direct socket does
            # not (a proxy from the environment): auto tries it, without giving up on ws.
            if fallback:
                return None
            raise Isol8Error("%s: cannot reach %s: %s" % (what, self.host, e)) from None
        self._ws_available = True
        self._remember_node(ws.headers.get("x-isol8-node"))
        return ws

    def _ws_events(self, ws: WebSocket, env: Dict[str, Any]) -> Iterator[StreamEvent]:
        what = "Execution failed"
        started = False
        try:
            try:
                ws.send_text(json.dumps(dict(env, type="execute")))
                while True:
                    text = ws.recv()
                    if text is None:
                        break
                    ev = json.loads(text)
                    # An execute that could not start: the server names the status POST
                    # /execute/stream would have answered, and the SSE path raises on that.
                    if ev.get("type") == "error" and "status" in ev and not started:
                        msg = str(ev.get("data", ""))
                        raise error_for(int(ev["status"]), msg, {"error": msg}, what)
                    started = True
                    yield StreamEvent.from_json(ev)
            except (WebSocketError, OSError) as e:
                raise Isol8Error("%s: %s" % (what, e)) from None
            except ValueError:
                raise Isol8Error("%s: a WebSocket message is not JSON" % what) from None
            if ws.close_code not in (1000, None):
                raise Isol8Error("%s: the server closed the WebSocket with %d %s" % (what, ws.close_code,
                                                                                       ws.close_reason))
        finally:
            # Normal end: answers nothing more. Early break: the server stops the program.
            ws.close()

    # ---- files (need a session, which the first execute creates) -----------------------------
    def put_file(self, path: str, content: Union[bytes, str]) -> None:
        """Write a file into the session's sandbox (relative paths are under /sandbox)."""
        data = content.encode() if isinstance(content, str) else bytes(content)
        self._call("POST", "/file", {"sessionId": self._need_session(), "path": path,
                                     "content": base64.b64encode(data).decode()}, what="File upload failed",
                   session=self.session_id)

    def get_file(self, path: str) -> bytes:
        """Read a file from the session's sandbox."""
        q = urllib.parse.urlencode({"sessionId": self._need_session(), "path": path})
        body = self._call("GET", "/file?" + q, what="File download failed", session=self.session_id)
        return base64.b64decode(body["content"])

    # ---- sessions --------------------------------------------------------------------------
    def list_sessions(self) -> List[SessionInfo]:
        """This key's persistent sessions."""
        body = self._call("GET", "/sessions", what="Listing sessions failed")
        return [SessionInfo.from_json(s) for s in body.get("sessions", [])]

    def delete_session(self, session_id: str) -> None:
        """Stop a session; a session that does not exist is not an error."""
        self._call("DELETE", "/session/" + urllib.parse.quote(session_id, safe=""), what="Deleting session failed",
                   session=session_id)
        self.nodes.pop(session_id, None)

    # ---- plumbing --------------------------------------------------------------------------
    def _need_session(self) -> str:
        if not self.session_id:
            raise Isol8Error("File operations require a sessionId (persistent mode)")
        return self.session_id

    def _envelope(self, request: RequestLike, fields: Dict[str, Any]) -> Dict[str, Any]:
        if request is None:
            request = ExecutionRequest(**fields)
        elif fields:
            raise TypeError("pass either a request or keyword fields, not both")
        req = request.to_json() if isinstance(request, ExecutionRequest) else dict(request)
        env: Dict[str, Any] = {"request": req}
        if self.options:
            env["options"] = self.options
        if self.session_id:
            env["sessionId"] = self.session_id
        return env

    def _headers(self, *, auth: bool = True, session: Optional[str] = None) -> Dict[str, str]:
        headers: Dict[str, str] = {}
        if session:
            # Where a balancer hashes without reading the body; the server checks it matches.
            headers["X-Isol8-Session"] = session
            if session in self.nodes:
                headers["X-Isol8-Node"] = self.nodes[session]
        if auth and self.api_key:
            headers["Authorization"] = "Bearer " + self.api_key
        return headers

    def _remember_node(self, node: Optional[str], session: Optional[str] = None) -> None:
        session = session if session is not None else self.session_id
        if session and node and session not in self.nodes:
            self.nodes[session] = node

    @staticmethod
    def _status_error(status: int, raw: bytes, what: str) -> Isol8Error:
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        error = parsed.get("error") if isinstance(parsed, dict) else (raw.decode("utf-8", "replace") or None)
        return error_for(status, error, parsed, what)

    def _open(self, method: str, path: str, body: Optional[Dict[str, Any]] = None, *, what: str,
              auth: bool = True, session: Optional[str] = None):
        headers = self._headers(auth=auth, session=session)
        headers["Accept"] = "application/json"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.host + path, data=data, headers=headers, method=method)
        try:
            resp = urllib.request.urlopen(req, timeout=self.timeout)
            self._remember_node(resp.headers.get("X-Isol8-Node"), session or "")
            return resp
        except urllib.error.HTTPError as e:
            raw = e.read()
            e.close()
            raise self._status_error(e.code, raw, what) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise Isol8Error("%s: cannot reach %s: %s" % (what, self.host, reason)) from None

    def _call(self, method: str, path: str, body: Optional[Dict[str, Any]] = None, *, what: str,
              auth: bool = True, session: Optional[str] = None) -> Any:
        with self._open(method, path, body, what=what, auth=auth, session=session) as resp:
            raw = resp.read()
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            raise Isol8Error("%s: the server's answer is not JSON" % what) from None


# The original's name for the engine a program talks to; here it is always remote.
Isol8 = RemoteIsol8
