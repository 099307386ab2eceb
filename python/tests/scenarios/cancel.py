"""Cancellation: of a task that never ran, at an await with cleanup,
propagated to an awaited task, refused (uncancel), and at shutdown."""
import asyncio

import loopmaid_asyncio as lm


async def sleeper(d):
    try:
        await asyncio.sleep(d)
    finally:
        lm.note("cleanup")


async def stubborn():
    try:
        await asyncio.sleep(1)
    except asyncio.CancelledError:
        lm.note("refusing the cancellation")
        asyncio.current_task().uncancel()
    await asyncio.sleep(0.01)
    return "finished anyway"


async def waiter(t):
    return await t


async def leftover():
    await asyncio.sleep(100)


async def main():
    asyncio.current_task().set_name("main")
    never = asyncio.create_task(sleeper(1), name="never ran")
    never.cancel()                              # pending -> cancelled
    await asyncio.sleep(0)
    print("never ran: cancelled =", never.cancelled())
    s = asyncio.create_task(sleeper(1), name="sleeper")
    await asyncio.sleep(0.01)
    s.cancel()                                  # at its await, cleanup runs
    try:
        await s
    except asyncio.CancelledError:
        print("sleeper cancelled")
    inner = asyncio.create_task(sleeper(1), name="inner")
    outer = asyncio.create_task(waiter(inner), name="outer")
    await asyncio.sleep(0.01)
    outer.cancel()                              # propagates to inner
    await asyncio.gather(outer, return_exceptions=True)
    print("outer cancelled:", outer.cancelled(), "inner cancelled:", inner.cancelled())
    st = asyncio.create_task(stubborn(), name="stubborn")
    await asyncio.sleep(0.01)
    st.cancel()
    print("stubborn:", await st)
    asyncio.create_task(leftover(), name="leftover")  # cancelled at shutdown
    await asyncio.sleep(0.01)


asyncio.run(main())
