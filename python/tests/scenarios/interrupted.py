"""Ctrl-C while awaiting: asyncio.run cancels main (reason: signal), the
program ends with KeyboardInterrupt, the trace is complete."""
import asyncio
import os
import signal


async def main():
    loop = asyncio.get_running_loop()
    loop.call_later(0.01, os.kill, os.getpid(), signal.SIGINT)
    try:
        await asyncio.sleep(10)
    finally:
        print("main's finally ran")


asyncio.run(main())
