"""fetch.py: three fetches over real loopback sockets, gathered.

Seed 002's "Async/Await Execution Flow", as a plain asyncio program (the C
twin is examples/fetch.c). Tasks A, B and C fetch "user", "posts" and
"comments" from a small HTTP server in the same program; the server's delays
(200, 100, 300 ms) make B answer first, gather() returns the results in the
order asked, and the total is about the slowest fetch.

    python3 -m loopmaid_asyncio --clock virtual -o fetch.yaml python/examples/fetch.py
    build/loopmaid render --view sequence --exclude '^server' fetch.yaml
"""

import asyncio
import itertools
import socket

import loopmaid_asyncio as lm

RESOURCES = {
    "/user": (0.2, '{"name": "ada", "items": 1}'),
    "/posts": (0.1, '{"name": "posts", "items": 3}'),
    "/comments": (0.3, '{"name": "comments", "items": 7}'),
}
conn_numbers = itertools.count(1)


async def handle_connection(reader, writer):
    asyncio.current_task().set_name("server: conn %d" % next(conn_numbers))
    request = await reader.readline()
    path = request.split()[1].decode()
    delay, body = RESOURCES[path]
    await asyncio.sleep(delay)  # the server is busy elsewhere
    writer.write(("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
                  "Content-Length: %d\r\n\r\n%s" % (len(body), body)).encode())
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def fetch(port, path):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lm.note("Send HTTP request")
    writer.write(("GET %s HTTP/1.0\r\n\r\n" % path).encode())
    await writer.drain()
    reply = await reader.read()  # until the server closes: the await
    writer.close()
    lm.note("Parse JSON, return data")
    items = int(reply.split(b'"items": ')[1].split(b"}")[0])
    return "%s: %d items" % (path[1:], items)


async def serve(listener, stop):
    server = await asyncio.start_server(handle_connection, sock=listener)
    async with server:
        await stop.wait()


async def main():
    asyncio.current_task().set_name("main")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    stop = asyncio.Event()
    server = asyncio.create_task(serve(listener, stop), name="server")
    loop = asyncio.get_running_loop()
    start = loop.time()
    tasks = [
        asyncio.create_task(fetch(port, "/user"), name="Task A (fetch user)"),
        asyncio.create_task(fetch(port, "/posts"), name="Task B (fetch posts)"),
        asyncio.create_task(fetch(port, "/comments"), name="Task C (fetch comments)"),
    ]
    results = await asyncio.gather(*tasks)
    took = round((loop.time() - start) * 1000)
    lm.note("All tasks complete in %d ms (slowest fetch: 300 ms)" % took)
    print("gather(A, B, C) returned, in order:")
    for r in results:
        print("  " + r)
    print("total %d ms: about the slowest fetch (300 ms), not the sum (600 ms)" % took)
    stop.set()
    await server


asyncio.run(main())
