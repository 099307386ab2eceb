#!/usr/bin/env python3
"""asyncio_bench.py: the CPython asyncio peer of every loopmaid benchmark.

    python3 bench/asyncio_bench.py WORKLOAD N    (yields pingpong spawn timers echo)
    LOOPMAID_ASYNCIO_TRACE=PATH ...              the same, recorded by loopmaid_asyncio

Each workload is written the way an asyncio programmer would write it, with
the standard event loop (uvloop is not installed on Debian's python3 and is a
different peer anyway: it would be libuv again). Prints the same result line
as the C programs (see bench/bench_util.h):

    workload=echo n=100000 seconds=1.23 cpu=1.22 rss_kib=12345 base_rss_kib=9876

`seconds` covers asyncio.run(...) only (loop creation and shutdown included,
interpreter start-up excluded). Exits non-zero when the workload did not
complete exactly, so a broken peer cannot look fast.
"""

import asyncio
import os
import resource
import sys
import time

ECHO_MSG = b"loopmaid echo benchmark payload\0"  # 32 bytes, as in the C peers
ECHO_CLIENTS = 100
assert len(ECHO_MSG) == 32


def status_kib(key):
    """A "Key: N kB" line of /proc/self/status. VmHWM rather than
    getrusage(): Linux carries the high-water mark of the image a process
    exec'd from into ru_maxrss (see bench/bench_util.h)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def maxrss_kib():
    return status_kib("VmHWM")


async def yields(n):
    # sleep(0) is asyncio's documented "yield to the loop" (a bare yield).
    for _ in range(n):
        await asyncio.sleep(0)
    return n


async def pingpong(n):
    ping, pong = asyncio.Event(), asyncio.Event()
    done = 0

    async def ponger():
        for _ in range(n):
            await pong.wait()
            pong.clear()
            ping.set()

    t = asyncio.create_task(ponger())
    for _ in range(n):
        pong.set()
        await ping.wait()
        ping.clear()
        done += 1
    await t
    return done


async def spawn(n):
    async def sleeper():
        await asyncio.sleep(0.001)
        return 1

    results = await asyncio.gather(*[sleeper() for _ in range(n)])
    return sum(results)


async def timers(n):
    loop = asyncio.get_running_loop()
    finished = loop.create_future()
    fired = 0

    def cb():
        nonlocal fired
        fired += 1
        if fired == n:
            finished.set_result(None)

    for i in range(n):
        loop.call_later(0.001 * (i & 1), cb)
    await finished
    return fired


class EchoServer(asyncio.Protocol):
    """The asyncio documentation's echo server: the fastest idiomatic form
    (no coroutine per connection, data_received writes straight back)."""

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def echo(n):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(EchoServer, "127.0.0.1", 0, backlog=256)
    port = server.sockets[0].getsockname()[1]

    async def client(rounds):
        # Streams are how coroutine code talks TCP in asyncio; asyncio sets
        # TCP_NODELAY on its TCP sockets by itself.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(rounds):
            writer.write(ECHO_MSG)
            await writer.drain()
            reply = await reader.readexactly(len(ECHO_MSG))
            if reply != ECHO_MSG:
                raise RuntimeError("echo reply corrupted")
        writer.close()
        await writer.wait_closed()
        return rounds

    per, extra = divmod(n, ECHO_CLIENTS)
    counts = [per + (1 if i < extra else 0) for i in range(ECHO_CLIENTS)]
    done = await asyncio.gather(*[client(c) for c in counts if c])
    server.close()
    await server.wait_closed()
    return sum(done)


WORKLOADS = {"yields": yields, "pingpong": pingpong, "spawn": spawn,
             "timers": timers, "echo": echo}


def main(argv):
    if len(argv) != 3 or argv[1] not in WORKLOADS:
        print("usage: asyncio_bench.py %s N" % "|".join(WORKLOADS),
              file=sys.stderr)
        return 2
    try:
        n = int(argv[2])
        if n <= 0:
            raise ValueError
    except ValueError:
        print("asyncio_bench.py: bad count %r" % argv[2], file=sys.stderr)
        return 2
    base = status_kib("VmRSS")
    c0 = time.process_time()
    t0 = time.perf_counter()
    trace = os.environ.get("LOOPMAID_ASYNCIO_TRACE")
    if trace:
        # The recorder's overhead (bench/run.py "asyncio recorder"): the same
        # workload on a loop traced by python/loopmaid_asyncio.
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                        "..", "python"))
        import loopmaid_asyncio
        with loopmaid_asyncio.record(trace, program="asyncio_bench"):
            done = asyncio.run(WORKLOADS[argv[1]](n))
    else:
        done = asyncio.run(WORKLOADS[argv[1]](n))
    t1 = time.perf_counter()
    c1 = time.process_time()
    if done != n:
        print("asyncio_bench.py: %s completed %d of %d" % (argv[1], done, n),
              file=sys.stderr)
        return 1
    print("workload=%s n=%d seconds=%.6f cpu=%.6f rss_kib=%d base_rss_kib=%d"
          % (argv[1], n, t1 - t0, c1 - c0, maxrss_kib(), base), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
