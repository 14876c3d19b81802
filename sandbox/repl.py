# isol8 persistent-session driver for Python (protocol: see README in this folder).
# One globals dict lives for the whole session, so `x = 40` then `print(x + 2)` prints 42.
import os
import re
import sys
import traceback

MAX_SNIPPET = 64 << 20
HEADER = re.compile(rb"ISOL8 ([0-9a-f]{32}) ([0-9]{1,10})\n\Z")


def exit_code(exc):
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def run(code, glb):
    try:
        exec(compile(code, "<isol8>", "exec"), glb)
        return 0
    except SystemExit as e:
        return exit_code(e)
    except BaseException as e:
        tb = e.__traceback__
        # Hide this driver's own frame; keep the user's frames.
        if tb is not None and tb.tb_frame.f_code is run.__code__:
            tb = tb.tb_next
        traceback.print_exception(type(e), e, tb)
        return 1


def main():
    # The protocol arrives on fd 0; the snippets get /dev/null as stdin (and so do their children).
    proto = os.fdopen(os.dup(0), "rb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdin = open(os.devnull, "r")
    sys.argv = [""]
    sys.path[0] = ""  # like the interactive interpreter: import from the working directory
    glb = {"__name__": "__main__", "__builtins__": __builtins__, "__doc__": None}
    out, err = sys.stdout, sys.stderr
    while True:
        line = proto.readline(128)
        if not line:
            return 0
        m = HEADER.match(line)
        if not m or int(m.group(2)) > MAX_SNIPPET:
            os.write(2, b"isol8 repl: malformed request header\n")
            return 2
        token, n = m.group(1), int(m.group(2))
        code = proto.read(n)
        if len(code) != n:
            return 0
        rc = run(code, glb)
        # A snippet may have replaced the streams; markers always go to the real ones.
        for s in (sys.stdout, sys.stderr, out, err):
            try:
                s.flush()
            except Exception:
                pass
        sys.stdout, sys.stderr = out, err
        marker = b"\x1e" + token + b" " + str(rc).encode() + b"\n"
        os.write(2, marker)
        os.write(1, marker)


if __name__ == "__main__":
    sys.exit(main())
