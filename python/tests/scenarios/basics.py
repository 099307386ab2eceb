"""Every basic transition: spawn, sleep, yield, awaiting a task and a future,
done / failed, renames, notes with hostile text, plain callbacks."""
import asyncio
import os

import loopmaid_asyncio as lm

HOSTILE = [
    'quotes " and \\ backslash',
    "new\nline\ttab\rcr",
    "controls \x00\x01\x1b\x7f and C1 \x85\x9f",
    "line breaks \u2028 \u2029, BOM \ufeff, nonchars \ufffe\uffff",
    "bytes from the OS: " + os.fsdecode(b"\xff\xfe\xe2\x82") + " and a lone \ud800",
    "emoji \U0001F600, accents \u00e9\u00e8, CJK \u6f22\u5b57",
    "{t: 0, ev: spawn}\n  - {t: 1, ev: loop_end}",
    "x" * 70000 + "\u00e9",
]


async def child(delay):
    await asyncio.sleep(delay)
    return delay


async def failer():
    await asyncio.sleep(0.002)
    raise ValueError('bad "reply":\n\tno body')


async def setter(fut):
    await asyncio.sleep(0.001)
    fut.set_result(42)


async def main():
    asyncio.current_task().set_name("main")
    loop = asyncio.get_running_loop()
    for text in HOSTILE:
        lm.note(text)
    await asyncio.sleep(0)                  # running -> pending by yield
    t = asyncio.create_task(child(0.005), name="child")
    t.set_name("child (renamed)")
    print("child returned", await t)        # on: task
    fut = loop.create_future()
    asyncio.create_task(setter(fut), name="setter")
    print("future gave", await fut)         # on: future, by: future
    f = asyncio.create_task(failer(), name="failer")
    try:
        await f
    except ValueError as e:
        print("failer raised", repr(e))
    done = loop.create_future()
    loop.call_soon(lambda: print("call_soon callback ran"))
    loop.call_later(0.003, done.set_result, "later")
    print("call_later gave", await done)


asyncio.run(main())
lm.note("outside any loop: ignored")
