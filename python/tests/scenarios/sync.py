"""Queue (bounded), Lock, Event, Semaphore, Condition: who waits, who wakes."""
import asyncio


async def producer(q):
    for i in range(3):
        await q.put(i)          # blocks: maxsize 1
    await q.put(None)


async def consumer(q, out):
    while True:
        await asyncio.sleep(0.01)
        item = await q.get()
        if item is None:
            return
        out.append(item)


async def locker(lock, name, out):
    async with lock:
        out.append(name)
        await asyncio.sleep(0.01)


async def main():
    asyncio.current_task().set_name("main")
    q = asyncio.Queue(maxsize=1)
    out = []
    await asyncio.gather(asyncio.create_task(producer(q), name="producer"),
                         asyncio.create_task(consumer(q, out), name="consumer"))
    print("queue:", out)
    lock = asyncio.Lock()
    order = []
    await asyncio.gather(*(asyncio.create_task(locker(lock, n, order), name="lock " + n)
                           for n in "ABC"))
    print("lock order:", order)
    ev = asyncio.Event()

    async def wait_event():
        await ev.wait()
        return "event seen"
    w = asyncio.create_task(wait_event(), name="event waiter")
    await asyncio.sleep(0.01)
    ev.set()
    print(await w)
    sem = asyncio.Semaphore(1)

    async def with_sem(n):
        async with sem:
            await asyncio.sleep(0.01)
            return n
    print("semaphore:", await asyncio.gather(*(asyncio.create_task(with_sem(n), name="sem " + n)
                                              for n in "XY")))
    cond = asyncio.Condition()

    async def cond_wait():
        async with cond:
            await cond.wait()
            return "notified"
    c = asyncio.create_task(cond_wait(), name="cond waiter")
    await asyncio.sleep(0.01)
    async with cond:
        cond.notify_all()
    print(await c)


asyncio.run(main())
