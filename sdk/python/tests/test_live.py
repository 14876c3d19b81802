"""The SDK against a live `isol8 serve` (tests/integration/sdk_python_test.sh starts one and
sets ISOL8_TEST_URL, ISOL8_TEST_KEY and ISOL8_TEST_KEY_BASH, a key whose tenant may only run
bash). Skipped without ISOL8_TEST_URL."""
import os
import unittest
import uuid

import isol8
from isol8 import ExecutionRequest, RemoteIsol8

URL = os.environ.get("ISOL8_TEST_URL")
KEY = os.environ.get("ISOL8_TEST_KEY")
KEY_BASH = os.environ.get("ISOL8_TEST_KEY_BASH")


@unittest.skipUnless(URL, "ISOL8_TEST_URL not set")
class Live(unittest.TestCase):
    def box(self, **kw):
        return RemoteIsol8(URL, KEY, **kw)

    def test_start_checks_health(self):
        b = self.box()
        b.start()
        self.assertEqual(b.version, "0.1.0")

    def test_start_unreachable(self):
        with self.assertRaises(isol8.Isol8Error) as cm:
            RemoteIsol8("http://127.0.0.1:1", KEY).start()
        self.assertTrue(str(cm.exception).startswith("Remote server health check failed: "), str(cm.exception))
        self.assertIsNone(cm.exception.status)

    def test_execute(self):
        r = self.box().execute(code="print(6 * 7)", runtime="python")
        self.assertIsInstance(r, isol8.ExecutionResult)
        self.assertEqual((r.stdout, r.stderr, r.exit_code, r.truncated, r.runtime), ("42\n", "", 0, False, "python"))
        self.assertEqual(len(r.execution_id), 36)
        self.assertRegex(r.timestamp, r"^\d{4}-\d\d-\d\dT")
        self.assertIsInstance(r.duration_ms, int)
        self.assertIsNotNone(r.container_id)

    def test_execute_request_object(self):
        req = ExecutionRequest(code="import os, sys\nprint(os.environ['A'], sys.stdin.read())\nsys.exit(3)",
                               runtime="python", env={"A": "env"}, stdin="in", timeout_ms=20000)
        r = self.box().execute(req)
        self.assertEqual((r.stdout, r.exit_code), ("env in\n", 3))

    def test_execute_stderr_and_bash(self):
        r = self.box().execute(code="echo out; echo err >&2; exit 5", runtime="bash")
        self.assertEqual((r.stdout, r.stderr, r.exit_code), ("out\n", "err\n", 5))

    def test_bad_request(self):
        with self.assertRaises(isol8.BadRequest) as cm:
            self.box().execute(code="x", runtime="cobol")
        self.assertEqual(cm.exception.status, 400)
        self.assertTrue(cm.exception.error.startswith('Unknown runtime: "cobol"'), cm.exception.error)
        self.assertTrue(str(cm.exception).startswith("Execution failed: Unknown runtime"))

    def test_wrong_key(self):
        with self.assertRaises(isol8.AuthenticationError) as cm:
            RemoteIsol8(URL, "not-a-key-0123456789").execute(code="print(1)")
        self.assertEqual((cm.exception.status, cm.exception.error), (401, "Invalid API key"))

    def test_policy_refusal(self):
        b = RemoteIsol8(URL, KEY_BASH)
        with self.assertRaises(isol8.PermissionDenied) as cm:
            b.execute(code="print(1)", runtime="python")
        self.assertEqual(cm.exception.status, 403)
        self.assertIn("python", cm.exception.error)
        self.assertEqual(b.execute(code="echo ok", runtime="bash").stdout, "ok\n")

    def test_execute_stream(self):
        code = "import sys\nsys.stdout.write('a\\n')\nsys.stdout.flush()\nsys.stderr.write('b\\n')\nsys.exit(4)"
        evs = list(self.box().execute_stream(code=code, runtime="python"))
        self.assertTrue(all(isinstance(e, isol8.StreamEvent) for e in evs))
        self.assertEqual("".join(e.data for e in evs if e.type == "stdout"), "a\n")
        self.assertEqual("".join(e.data for e in evs if e.type == "stderr"), "b\n")
        self.assertEqual((evs[-1].type, evs[-1].data, evs[-1].exit_code, evs[-1].phase), ("exit", "4", 4, "code"))
        self.assertEqual({e.phase for e in evs}, {"code"})
        # The exit event carries the run's usage, as the buffered result does; no other event does.
        usage = evs[-1].resource_usage
        self.assertEqual((usage["networkBytesIn"], usage["cpuTimeMs"] >= 0, usage["peakMemoryBytes"] > 0), (0, True, True))
        self.assertEqual([e.type for e in evs if e.resource_usage is not None], ["exit"])

    def test_execute_stream_bad_request(self):
        with self.assertRaises(isol8.BadRequest):
            list(self.box().execute_stream(code="x", runtime="cobol"))

    # ---- streaming over both transports ------------------------------------------------
    @staticmethod
    def shape(evs):
        """Events with consecutive output chunks of one stream and phase joined (the chunking
        is the pipe's, not the transport's), resourceUsage reduced to its presence."""
        out = []
        for e in evs:
            if out and e.type in ("stdout", "stderr") and out[-1][:2] == (e.type, e.phase):
                out[-1] = (e.type, e.phase, out[-1][2] + e.data, False)
            else:
                out.append((e.type, e.phase, e.data, e.resource_usage is not None))
        return out

    def stream(self, transport, **kw):
        b = self.box(transport=transport, **{k: kw.pop(k) for k in ("session_id", "options") if k in kw})
        evs = list(b.execute_stream(**kw))
        self.assertEqual(b.last_transport, transport)
        return evs

    def test_auto_takes_the_websocket(self):
        b = self.box()
        self.assertEqual(b.transport, "auto")
        evs = list(b.execute_stream(code="print(1)", runtime="python"))
        self.assertEqual((b.last_transport, self.shape(evs)), ("ws", [("stdout", "code", "1\n", False),
                                                                      ("exit", "code", "0", True)]))

    def test_same_events_over_ws_and_sse(self):
        req = dict(runtime="python", setup_script="echo set; echo up >&2",
                   code="import sys\nprint('a')\nsys.stdout.flush()\nsys.stderr.write('b\\n')\nsys.exit(3)")
        want = [("stdout", "setup", "set\n", False), ("stderr", "setup", "up\n", False), ("exit", "setup", "0", False),
                ("stdout", "code", "a\n", False), ("stderr", "code", "b\n", False), ("exit", "code", "3", True)]
        for t in ("ws", "sse"):
            with self.subTest(transport=t):
                evs = self.stream(t, **req)
                # stdout and stderr are two pipes: their interleaving is not the transport's either
                got = self.shape(evs)
                self.assertEqual(sorted(got[:2]), sorted(want[:2]))
                self.assertEqual(got[2:], want[2:])
                self.assertEqual({type(e) for e in evs}, {isol8.StreamEvent})

    def test_big_output_arrives_complete(self):
        code = "import sys\nfor i in range(80):\n    sys.stdout.write(str(i % 10) * 65536)\n"
        for t in ("ws", "sse"):
            with self.subTest(transport=t):
                # over the default 1 MiB cap, which a stream applies as a buffered run does
                evs = self.stream(t, code=code, runtime="python", options={"maxOutputSize": "8m"})
                out = "".join(e.data for e in evs if e.type == "stdout")
                self.assertEqual(len(out), 80 * 65536)
                self.assertEqual(out, "".join(str(i % 10) * 65536 for i in range(80)))
                self.assertEqual((evs[-1].type, evs[-1].data), ("exit", "0"))

    def test_slow_reader_gets_everything(self):
        # The WebSocket is read only as the loop asks: a consumer that stops for a while leaves
        # the bytes to the kernel's buffers, and nothing is lost or reordered.
        import time
        b = self.box(transport="ws", options={"maxOutputSize": "8m"})
        it = b.execute_stream(code="import sys\nsys.stdout.write('y' * (4 << 20))", runtime="python")
        first = next(it)
        time.sleep(1)
        rest = list(it)
        out = first.data + "".join(e.data for e in rest if e.type == "stdout")
        self.assertEqual((len(out), set(out), rest[-1].data), (4 << 20, {"y"}, "0"))

    def test_stream_refusals_raise_the_servers_error(self):
        for t in ("ws", "sse"):
            with self.subTest(transport=t):
                with self.assertRaises(isol8.BadRequest) as cm:
                    self.stream(t, code="x", runtime="cobol")
                self.assertEqual(cm.exception.status, 400)
                self.assertTrue(cm.exception.error.startswith('Unknown runtime: "cobol"'), cm.exception.error)
                self.assertTrue(str(cm.exception).startswith('Execution failed: Unknown runtime: "cobol"'))
                # isol8d's refusal comes once the stream is open: an error event, on both alike
                evs = list(RemoteIsol8(URL, KEY_BASH, transport=t).execute_stream(code="print(1)", runtime="python"))
                self.assertEqual([(e.type, e.data, e.phase) for e in evs],
                                 [("error", "runtime python is not allowed for tenant bashonly", None)])
                with self.assertRaises(isol8.AuthenticationError) as cm:
                    list(RemoteIsol8(URL, "not-a-key-0123456789", transport=t).execute_stream(code="1"))
                self.assertEqual((cm.exception.status, cm.exception.error), (401, "Invalid API key"))

    def test_stream_in_a_session_over_ws(self):
        sid = "py-ws-" + uuid.uuid4().hex[:8]
        with self.box(session_id=sid, transport="ws") as b:
            b.execute(code="x = 40", runtime="python")
            evs = list(b.execute_stream(code="print(x + 2)", runtime="python"))
            self.assertEqual([x[:3] for x in self.shape(evs)], [("stdout", "code", "42\n"), ("exit", "code", "0")])
            # A node pin the server does not hold: refused on both transports alike.
            b.nodes[sid] = "node-elsewhere"
            for t in ("ws", "sse"):
                b.transport = t
                with self.assertRaises(isol8.Isol8Error) as cm:
                    list(b.execute_stream(code="print(1)", runtime="python"))
                self.assertEqual((cm.exception.status, cm.exception.error), (421, "session lives on another node"))
            del b.nodes[sid]

    def test_bad_transport(self):
        with self.assertRaises(ValueError):
            RemoteIsol8(URL, KEY, transport="carrier-pigeon")

    def test_session_files_and_list(self):
        sid = "py-sdk-" + uuid.uuid4().hex[:8]
        with self.box(session_id=sid) as b:
            self.assertEqual(b.execute(code="x = 40", runtime="python").exit_code, 0)
            self.assertEqual(b.execute(code="print(x + 2)", runtime="python").stdout, "42\n")
            blob = bytes(range(256))
            b.put_file("data/blob.bin", blob)
            self.assertEqual(b.get_file("/sandbox/data/blob.bin"), blob)
            self.assertEqual(b.execute(code="print(len(open('data/blob.bin','rb').read()))").stdout, "256\n")
            with self.assertRaises(isol8.NotFound):
                b.get_file("no-such-file")
            mine = [s for s in b.list_sessions() if s.id == sid]
            self.assertEqual(len(mine), 1)
            self.assertIsInstance(mine[0], isol8.SessionInfo)
            self.assertEqual((mine[0].is_active, mine[0].runtime), (False, "python"))
            self.assertRegex(mine[0].last_accessed_at, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        # stop() deleted it
        self.assertEqual([s for s in self.box().list_sessions() if s.id == sid], [])
        self.box().delete_session(sid)  # idempotent

    def test_files_need_a_session(self):
        with self.assertRaises(isol8.Isol8Error) as cm:
            self.box().get_file("x")
        self.assertEqual(str(cm.exception), "File operations require a sessionId (persistent mode)")

    def test_bad_host(self):
        with self.assertRaises(ValueError):
            RemoteIsol8("ftp://x", KEY)


if __name__ == "__main__":
    unittest.main()
