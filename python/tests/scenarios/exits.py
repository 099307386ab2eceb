"""sys.exit inside a task: exit status 3, a complete trace."""
import asyncio
import sys


async def bystander():
    await asyncio.sleep(10)


async def main():
    asyncio.create_task(bystander(), name="bystander")
    await asyncio.sleep(0.01)
    sys.exit(3)


asyncio.run(main())
