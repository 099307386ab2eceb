"""wait_for that succeeds and that times out, asyncio.timeout(), wait() with
a timeout."""
import asyncio


async def work(delay, name):
    try:
        await asyncio.sleep(delay)
        return name
    finally:
        pass


async def main():
    asyncio.current_task().set_name("main")
    quick = asyncio.create_task(work(0.01, "quick"), name="quick")
    print("wait_for ok:", await asyncio.wait_for(quick, 1.0))
    slow = asyncio.create_task(work(5, "slow"), name="slow")
    try:
        await asyncio.wait_for(slow, 0.5)
    except TimeoutError:
        print("wait_for timed out; slow cancelled:", slow.cancelled())
    try:
        async with asyncio.timeout(0.2):
            await asyncio.sleep(10)
    except TimeoutError:
        print("asyncio.timeout() expired")
    ts = [asyncio.create_task(work(d, n), name="wait " + n)
          for n, d in (("A", 0.05), ("B", 3.0))]
    done, pending = await asyncio.wait(ts, timeout=0.1)
    print("wait(timeout): done", sorted(t.get_name() for t in done),
          "pending", sorted(t.get_name() for t in pending))
    for t in sorted(pending, key=lambda t: t.get_name()):
        t.cancel()
        try:
            await t
        except asyncio.CancelledError:
            pass


asyncio.run(main())
