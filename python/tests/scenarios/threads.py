"""Two threads, one event loop each, recording into one trace at the same
time: whole lines, each loop numbered, both complete."""
import asyncio
import threading


async def work(n):
    asyncio.current_task().set_name("main %d" % n)
    for _ in range(200):
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)
    return n


results = []
threads = [threading.Thread(target=lambda n=n: results.append(asyncio.run(work(n))))
           for n in (1, 2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(sorted(results))
