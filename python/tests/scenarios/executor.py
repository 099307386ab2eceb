"""Executor work: three jobs that finish in real time in the opposite order
of submission; under the virtual clock they are delivered in submission
order, so the trace is the same on every run. Plus asyncio.to_thread."""
import asyncio
import time


def blocking(seconds):
    time.sleep(seconds)
    return seconds


async def offload(seconds):
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, blocking, seconds)


async def main():
    asyncio.current_task().set_name("main")
    r = await asyncio.gather(*(asyncio.create_task(offload(s), name="job %d" % i)
                               for i, s in enumerate((0.06, 0.03, 0.0))))
    print("executor:", r)
    print("to_thread:", await asyncio.to_thread(sum, [1, 2, 3]))


asyncio.run(main())
