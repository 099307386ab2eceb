"""timeout.py: wait_for on a slow task, cancellation at the await, cleanup.

Seed 000's "Sequence: Timeout and Cancellation", as a plain asyncio program
(the C twin is examples/timeout.c). main gives "Slow Task" two seconds
(asyncio.wait_for). The slow task sends a request over a real loopback TCP
connection and awaits the reply, but the server takes five seconds. When the
deadline passes the task is cancelled at its read, runs its `finally:`
(closes the socket, leaves a note), and only then does main get TimeoutError.

    python3 -m loopmaid_asyncio --clock virtual -o timeout.yaml python/examples/timeout.py
    build/loopmaid render --view sequence --exclude '^server' timeout.yaml
"""

import asyncio
import socket

import loopmaid_asyncio as lm


async def server(listener):
    loop = asyncio.get_running_loop()
    conn, _ = await loop.sock_accept(listener)
    with conn:
        await loop.sock_recv(conn, 128)
        await asyncio.sleep(5)  # thinking...
        await loop.sock_sendall(conn, b"late answer\n")


async def slow_task(port):
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    try:
        await loop.sock_sendall(sock, b"GET /slow\n")
        lm.note("Working... await read(slow server)")
        return await loop.sock_recv(sock, 64)  # the await point
    except asyncio.CancelledError:
        lm.note("CancelledError at the await")
        raise
    finally:
        lm.note("finally: cleanup (close the socket)")
        sock.close()


async def main():
    asyncio.current_task().set_name("main")
    loop = asyncio.get_running_loop()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    srv = asyncio.create_task(server(listener), name="server")

    start = loop.time()
    slow = asyncio.create_task(slow_task(port), name="Slow Task")
    try:
        await asyncio.wait_for(slow, 2.0)
        print("unexpected: wait_for returned")
    except TimeoutError as e:
        lm.note("Handle timeout gracefully")
        print("wait_for gave up after %.1f s: %s" % (loop.time() - start, type(e).__name__))
        print("the slow task ended %s, after its cleanup ran"
              % ("cancelled" if slow.cancelled() else "otherwise"))

    # The server is still "thinking": cancel it as well and wait for it.
    srv.cancel()
    try:
        await srv
    except asyncio.CancelledError:
        pass
    listener.close()


asyncio.run(main())
