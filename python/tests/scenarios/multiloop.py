"""Two loops one after another in one trace (loop: 2 on the second's events)."""
import asyncio


async def main(n):
    asyncio.current_task().set_name("main %d" % n)
    await asyncio.sleep(0.001 * n)
    return n


print(asyncio.run(main(1)), asyncio.run(main(2)))
