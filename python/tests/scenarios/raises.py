"""An uncaught exception: the trace is still complete (ends with loop_end)."""
import asyncio


async def main():
    await asyncio.sleep(0.01)
    raise RuntimeError("the program failed")


asyncio.run(main())
