"""python3 -m loopmaid_asyncio [-o TRACE] [--clock virtual|monotonic]
                              [--program NAME] [--loop-name NAME] script.py ARGS...

Runs script.py as `python3 script.py ARGS...` would (same sys.argv, sys.path,
__main__, exit status, output), with every asyncio event loop it makes
recorded to TRACE (default: $LOOPMAID_TRACE, else loopmaid-trace.yaml; `-`:
standard output). --clock defaults to $LOOPMAID_CLOCK, else monotonic.
"""

import os
import runpy
import sys
import traceback

import loopmaid_asyncio


def _usage(msg=None, code=2):
    if msg:
        print('loopmaid_asyncio: %s' % msg, file=sys.stderr)
    print(__doc__.strip().split('\n\n')[0], file=sys.stderr)
    sys.exit(code)


def _parse(argv):
    out = os.environ.get('LOOPMAID_TRACE') or 'loopmaid-trace.yaml'
    clock = os.environ.get('LOOPMAID_CLOCK') or 'monotonic'
    program = None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ('-h', '--help'):
            print(__doc__.strip())
            sys.exit(0)
        if a in ('-o', '--output', '--clock', '--program'):
            if i + 1 >= len(argv):
                _usage('%s needs a value' % a)
            v = argv[i + 1]
            if a in ('-o', '--output'):
                out = v
            elif a == '--clock':
                clock = v
            else:
                program = v
            i += 2
            continue
        if a.startswith('--clock='):
            clock = a.split('=', 1)[1]
        elif a.startswith('--output='):
            out = a.split('=', 1)[1]
        elif a.startswith('--program='):
            program = a.split('=', 1)[1]
        elif a == '--':
            i += 1
            break
        elif a.startswith('-') and a != '-':
            _usage('unknown option %s' % a)
        else:
            break
        i += 1
    if i >= len(argv):
        _usage('no script given')
    if clock not in ('virtual', 'monotonic'):
        _usage("--clock must be 'virtual' or 'monotonic'")
    return out, clock, program, argv[i], argv[i + 1:]


def main(argv=None):
    out, clock, program, script, args = _parse(sys.argv[1:] if argv is None else argv)
    if program is None:
        base = os.path.basename(script)
        program = base[:-3] if base.endswith('.py') else base
    try:
        session = loopmaid_asyncio.Session(out, clock, program)
    except OSError as e:
        print('loopmaid_asyncio: %s: %s' % (out, e.strerror), file=sys.stderr)
        return 2
    session.install()
    sys.argv = [script] + list(args)
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    try:
        runpy.run_path(os.path.abspath(script), run_name='__main__')
    except SystemExit:
        session.close()
        raise
    except BaseException as e:
        session.close()
        # Print it as `python3 script.py` would: from the script's frames on.
        tb = e.__traceback__
        path = os.path.abspath(script)
        t = tb
        while t is not None and os.path.abspath(t.tb_frame.f_code.co_filename) != path:
            t = t.tb_next
        e.__traceback__ = t if t is not None else tb
        if isinstance(e, KeyboardInterrupt):
            traceback.print_exception(type(e), e, e.__traceback__)
            # Like the interpreter: die of SIGINT so the caller sees it.
            import signal
            sys.stdout.flush()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
            return 130
        sys.excepthook(type(e), e, e.__traceback__)
        return 1
    session.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
