# isol8 standby for python (see A_WARM in common/agent_proto.h): an interpreter started ahead of
# a run. It does nothing until its job arrives on fd 3, then becomes the program as `python3 -c
# CODE` or `python3 FILE` would have run it, in the stdio it was started with (pipes the agent
# hands to the worker). Job: u32 length (little-endian), then NUL-separated fields: "1", cwd,
# file ("" = inline code), number of env entries, the "K=V" entries, and the code; version "2"
# has the number of program arguments and the arguments between the env entries and the code.
import os
import sys


def _isol8_job():
    def read(n):
        b = b''
        while len(b) < n:
            c = os.read(3, n - len(b))
            if not c:
                os._exit(0)  # the agent dropped us before any run
            b += c
        return b

    n = int.from_bytes(read(4), 'little')
    f = read(n).split(b'\0')
    os.close(3)
    def bad():
        os.write(2, b'isol8: malformed standby job\n')
        os._exit(70)

    nenv = int(f[3]) if len(f) >= 5 and f[3].isdigit() else -1
    if f[0] not in (b'1', b'2') or nenv < 0 or len(f) < 5 + nenv:
        bad()
    rest = 4 + nenv
    args = []
    if f[0] == b'2':
        nargs = int(f[rest]) if len(f) > rest and f[rest].isdigit() else -1
        if nargs < 0 or len(f) < rest + 2 + nargs:
            bad()
        args = f[rest + 1:rest + 1 + nargs]
        rest += 1 + nargs
    return f[1], f[2], f[4:4 + nenv], args, b'\0'.join(f[rest:])


def _isol8_main():
    cwd, path, env, args, code = _isol8_job()
    args = [os.fsdecode(a) for a in args]
    for e in env:
        k, _, v = e.partition(b'=')
        os.environb[k] = v
    try:
        os.chdir(cwd)
    except OSError as e:
        os.write(2, b'isol8: ' + cwd + b': ' + e.strerror.encode() + b'\n')
        os._exit(126)
    main = type(sys)('__main__')
    main.__builtins__ = __builtins__
    main.__spec__ = None
    main.__annotations__ = {}
    if path:
        with open(path, 'wb') as fh:
            fh.write(code)
        name = os.fsdecode(path)
        main.__file__ = name
        main.__cached__ = None
        main.__loader__ = type(__loader__)('__main__', name)
        sys.argv[:] = [name] + args
        sys.path[0] = os.path.dirname(os.path.realpath(name))
    else:
        name = '<string>'
        main.__loader__ = sys.modules['_frozen_importlib'].BuiltinImporter
        sys.argv[:] = ['-c'] + args
        sys.path[0] = ''
    sys.modules['__main__'] = main
    return compile(code, name, 'exec', dont_inherit=True), main.__dict__


try:
    _isol8_code, _isol8_globals = _isol8_main()
    exec(_isol8_code, _isol8_globals)
except SystemExit:
    raise
except BaseException as _isol8_e:
    # Print as the interpreter would, without this file's frame.
    _isol8_tb = _isol8_e.__traceback__
    while _isol8_tb is not None and _isol8_tb.tb_frame.f_code.co_filename == __file__:
        _isol8_tb = _isol8_tb.tb_next
    sys.excepthook(type(_isol8_e), _isol8_e.with_traceback(_isol8_tb), _isol8_tb)
    if isinstance(_isol8_e, KeyboardInterrupt):
        import signal
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    sys.exit(1)
