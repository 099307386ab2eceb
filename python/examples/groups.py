"""groups.py: gather() vs wait() vs TaskGroup, side by side.

Seed 000's "gather() vs wait() vs TaskGroup", as a plain asyncio program (the
C twin is examples/groups.c, with the same scenarios, names and delays). Each
scenario is a task of its own that starts three jobs A, B and C sleeping 30,
10 and 20 ms (so they finish B, C, A); in "B fails" scenarios B raises.

    gather in order        results come back A, B, C (the order asked).
    gather fail-fast       B fails: gather raises B's error at once; unlike
                           loopmaid's C runtime, asyncio does NOT cancel A
                           and C (they run on; here they are awaited).
    gather return_exc      B fails: nothing is cancelled, B's error is a value.
    wait first_completed   returns when B is done; A and C still pending.
    wait first_exception   returns when B fails; A and C still pending.
    wait all_completed     returns when all three are done.
    taskgroup              B fails: the group cancels A and C and raises an
                           ExceptionGroup with B's error.

    python3 -m loopmaid_asyncio --clock virtual -o groups.yaml python/examples/groups.py
    build/loopmaid render --view tasks groups.yaml
"""

import asyncio

PLAIN = (("A", 0.03, False), ("B", 0.01, False), ("C", 0.02, False))
B_FAILS = (("A", 0.03, False), ("B", 0.01, True), ("C", 0.02, False))


async def job(letter, delay, fails):
    await asyncio.sleep(delay)
    if fails:
        raise RuntimeError("B failed")
    return letter


def spawn_jobs(scenario, jobs):
    return [asyncio.create_task(job(*j), name="%s %s" % (scenario, j[0])) for j in jobs]


async def cancel_rest(tasks):
    """What wait() left pending, the caller must finish or cancel."""
    for t in tasks:
        t.cancel()  # harmless on a finished task
    for t in tasks:
        try:
            await t
        except BaseException:
            pass


def ends(tasks):
    return ", ".join("%s %s" % (t.get_name().split()[-1],
                                "cancelled" if t.cancelled() else
                                "failed" if t.exception() else "done") for t in tasks)


async def gather_in_order():
    t = spawn_jobs("gather", PLAIN)
    print("%-22sresults = %s (finished B, C, A)" % ("gather in order", await asyncio.gather(*t)))


async def gather_fail_fast():
    t = spawn_jobs("fail-fast", B_FAILS)
    try:
        await asyncio.gather(*t)
    except RuntimeError as e:
        print("%-22sraised %r; A and C still running" % ("gather fail-fast", str(e)))
    for x in t:  # nothing was cancelled: await the others (as groups.c does)
        try:
            await x
        except RuntimeError:
            pass
    print("%-22s%s" % ("", ends(t)))


async def gather_return_exceptions():
    t = spawn_jobs("return_exc", B_FAILS)
    r = await asyncio.gather(*t, return_exceptions=True)
    print("%-22sresults = %s" % ("gather return_exc", [type(x).__name__ if isinstance(x, BaseException) else x for x in r]))


async def wait_mode(mode_name, jobs, mode):
    t = spawn_jobs(mode_name, jobs)
    done, pending = await asyncio.wait(t, return_when=mode)
    print("wait %-17sdone = {%s }, pending = {%s }" % (
        mode_name, "".join(" " + x.get_name().split()[-1] for x in t if x in done),
        "".join(" " + x.get_name().split()[-1] for x in t if x in pending)))
    await cancel_rest(t)


async def taskgroup():
    try:
        async with asyncio.TaskGroup() as g:
            t = [g.create_task(job(*j), name="taskgroup %s" % j[0]) for j in B_FAILS]
    except* RuntimeError as eg:
        print("%-22sraised ExceptionGroup, %d failure(s) in the group" % ("taskgroup", len(eg.exceptions)))
    print("%-22s%s" % ("", ends(t)))


async def main():
    asyncio.current_task().set_name("main")
    scenarios = [
        ("gather in order", gather_in_order()),
        ("gather fail-fast", gather_fail_fast()),
        ("gather return_exceptions", gather_return_exceptions()),
        ("wait FIRST_COMPLETED + cancel rest", wait_mode("first_completed", PLAIN, asyncio.FIRST_COMPLETED)),
        ("wait FIRST_EXCEPTION", wait_mode("first_exception", B_FAILS, asyncio.FIRST_EXCEPTION)),
        ("wait ALL_COMPLETED", wait_mode("all_completed", PLAIN, asyncio.ALL_COMPLETED)),
        ("task group", taskgroup()),
    ]
    for name, coro in scenarios:
        await asyncio.create_task(coro, name=name)


asyncio.run(main())
