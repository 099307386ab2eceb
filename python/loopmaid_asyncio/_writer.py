"""_writer.py: trace format v1 text, byte for byte as the C writer makes it.

docs/trace-format.md section 1 is the contract; tracer/trace_fmt.c is the C
writer this mirrors. Strings are double-quoted scalars with the same escapes
(\\" \\\\ \\n \\t \\r, \\xNN for the other C0 controls, DEL and C1, \\uNNNN for
U+2028, U+2029, U+FEFF, U+FFFE, U+FFFF), invalid UTF-8 becomes U+FFFD one
maximal subpart at a time, and strings are cut at 65,535 bytes on a character
boundary. Nothing a program passes in can break the YAML.

A TraceFile is shared by every loop recording into it: each loop hands it
whole batches of complete lines, written with os.write under a lock, so lines
never interleave mid-line and a crash leaves only complete lines behind.
"""

import codecs
import os
import re
import threading

STR_MAX = 65535

# Characters that leave a str exactly as it is inside the quotes. Anything
# else goes through the slow path (escapes, surrogates).
_NEEDS_WORK = re.compile(r'[^\x20-\x21\x23-\x5b\x5d-\x7e\xa0-\u2027\u202a-\ud7ff'
                         r'\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]')
_SIMPLE_ESC = {'"': '\\"', '\\': '\\\\', '\n': '\\n', '\t': '\\t', '\r': '\\r'}
_HEX = '0123456789ABCDEF'


def _esc_x(c):
    return '\\x' + _HEX[(c >> 4) & 15] + _HEX[c & 15]


def _utf8_seq(b, i):
    """(length, code point) of the well-formed sequence at b[i:], or
    (0, bad) with bad the length of the maximal ill-formed subpart
    (tracer/trace_fmt.c utf8_seq, the same rules)."""
    c = b[i]
    n = len(b) - i
    lo, hi = 0x80, 0xBF
    if 0xC2 <= c <= 0xDF:
        ln, v = 2, c & 0x1F
    elif 0xE0 <= c <= 0xEF:
        ln, v = 3, c & 0x0F
        if c == 0xE0:
            lo = 0xA0
        if c == 0xED:
            hi = 0x9F
    elif 0xF0 <= c <= 0xF4:
        ln, v = 4, c & 0x07
        if c == 0xF0:
            lo = 0x90
        if c == 0xF4:
            hi = 0x8F
    else:
        return 0, 1
    for k in range(1, ln):
        if k >= n:
            return 0, k
        d = b[i + k]
        if d < lo or d > hi:
            return 0, k
        lo, hi = 0x80, 0xBF
        v = (v << 6) | (d & 0x3F)
    return ln, v


def _quote_bytes(b):
    """The C algorithm (lm__emit_quoted) on UTF-8 bytes; returns str."""
    out = []
    i, n = 0, len(b)
    while i < n:
        c = b[i]
        if c < 0x80:
            ch = chr(c)
            if 0x20 <= c < 0x7F and ch not in '"\\':
                out.append(ch)
            else:
                out.append(_SIMPLE_ESC.get(ch) or _esc_x(c))
            i += 1
            continue
        ln, v = _utf8_seq(b, i)
        if ln == 0:
            out.append('\ufffd')
            i += v
            continue
        if v >= 0xA0 and v not in (0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xFFFF):
            out.append(chr(v))
        elif v < 0x100:
            out.append(_esc_x(v))
        else:
            out.append('\\u%04X' % v)
        i += ln
    return ''.join(out)


def _lone_surrogates(err):
    # Surrogate escapes (os.fsdecode of undecodable bytes, U+DC80..U+DCFF)
    # go back to the bytes they stand for; any other lone surrogate is
    # encoded as is and is then invalid UTF-8, so it becomes U+FFFD like any
    # invalid input.
    out = bytearray()
    for ch in err.object[err.start:err.end]:
        c = ord(ch)
        if 0xDC80 <= c <= 0xDCFF:
            out.append(c - 0xDC00)
        else:
            out += ch.encode('utf-8', 'surrogatepass')
    return bytes(out), err.end


codecs.register_error('loopmaid.surrogates', _lone_surrogates)


def _to_bytes(s):
    return s.encode('utf-8', 'loopmaid.surrogates')


def cut(b):
    """b cut to STR_MAX bytes, backing up to a UTF-8 character boundary."""
    if len(b) <= STR_MAX:
        return b
    n = STR_MAX
    while n > 0 and (b[n] & 0xC0) == 0x80:
        n -= 1
    return b[:n]


def quote(s):
    """s as a YAML double-quoted scalar in the writer's spelling."""
    if not isinstance(s, str):
        s = str(s)
    if len(s) * 4 <= STR_MAX and _NEEDS_WORK.search(s) is None:
        return '"' + s + '"'
    b = cut(_to_bytes(s))
    return '"' + _quote_bytes(b) + '"'


def header(program, clock):
    return 'loopmaid: 1\nprogram: %s\nclock: %s\nevents:\n' % (quote(program), clock)


class TraceFile:
    """One trace file: the header once (with the first batch), then whole
    lines from any number of loops, in the order their batches arrive."""

    def __init__(self, path, program, clock):
        self.path = path
        self.program = program
        self.clock = clock
        self.lock = threading.Lock()
        self.loops = 0          # loops attached: the next gets number loops+1
        self.header_done = False
        self.closed = False
        if path == '-':
            self.fd = os.dup(1)
        else:
            parent = os.path.dirname(path)
            if parent and not os.path.isdir(parent):
                os.makedirs(parent, exist_ok=True)
            self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC,
                              0o644)

    def attach(self):
        with self.lock:
            self.loops += 1
            return self.loops

    def _write_all(self, data):
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.fd, view)
            except InterruptedError:
                continue
            view = view[n:]

    def write_lines(self, lines, force_header=False):
        """Writes complete lines (each ending in a newline)."""
        if not lines and not force_header:
            return
        with self.lock:
            if self.closed:
                return
            parts = []
            if not self.header_done:
                parts.append(header(self.program, self.clock))
                self.header_done = True
            parts.extend(lines)
            try:
                self._write_all(''.join(parts).encode('utf-8'))
            except OSError:
                self.closed = True  # a full disk must not break the program

    def close(self):
        self.write_lines([], force_header=True)
        with self.lock:
            if not self.closed:
                self.closed = True
                try:
                    os.close(self.fd)
                except OSError:
                    pass
