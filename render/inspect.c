/*
 * inspect.c: `loopmaid inspect`, a validating read of a trace and a summary
 * a person can act on: tasks by outcome, time in each state, ticks, the step
 * that blocked the loop longest (asyncio warns about callbacks slower than
 * 100 ms; a step that long here did the same to every other task), the
 * longest awaits, and what cancelled what. With --advise: how the task time
 * split between running, awaiting I/O or sleep, and thread offload, and what
 * that suggests along seed 002's "When to Use Which Approach" tree.
 *
 * One pass (the model) is enough; memory grows with tasks. The top-N lists
 * are O(tasks * N).
 */
#include "lmr_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define TOP 5 /* entries in each "longest" list */
#define SLOW_STEP_NS 100000000LL /* asyncio's slow_callback_duration */
#define NAME_SHOWN 60

/* A task name, cut and made safe for a terminal. */
static const char *shown(const char *s, char *buf, size_t n)
{
    size_t j = 0, cp = 0;
    if (!s)
        s = "";
    for (; *s && j + 8 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c & 0xC0) != 0x80 && ++cp > NAME_SHOWN)
            break;
        if (c == '"' || c == '\\')
            buf[j++] = '\\';
        buf[j++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (*s) {
        while (j > 0 && ((unsigned char)buf[j - 1] & 0xC0) == 0x80)
            j--;
        if (j > 0 && ((unsigned char)buf[j - 1] & 0xC0) == 0xC0)
            j--;
        memcpy(buf + j, "...", 3);
        j += 3;
    }
    buf[j] = '\0';
    return buf;
}

static const char *dur(int64_t ns, char *buf, size_t n)
{
    if (ns < 0)
        ns = 0;
    if (ns < 1000)
        snprintf(buf, n, "%" PRId64 " ns", ns);
    else if (ns < 1000000)
        snprintf(buf, n, "%.1f us", (double)ns / 1e3);
    else if (ns < 1000000000LL)
        snprintf(buf, n, "%.1f ms", (double)ns / 1e6);
    else
        snprintf(buf, n, "%.2f s", (double)ns / 1e9);
    return buf;
}

static double pct(int64_t part, int64_t whole)
{
    return whole > 0 ? 100.0 * (double)part / (double)whole : 0.0;
}

static const char *const st_names[LMR__ST__COUNT] = {
    "created", "pending", "running", "awaiting", "done", "failed", "cancelled",
};

/* Indexes of the TOP tasks by key(t), largest first; returns how many. */
static size_t top_tasks(const lmr__model *m, int64_t (*key)(const lmr__task *),
                        size_t out[TOP])
{
    size_t n = 0;
    for (size_t i = 0; i < m->ntasks; i++) {
        int64_t k = key(&m->tasks[i]);
        if (k <= 0)
            continue;
        size_t pos = n;
        while (pos > 0 && key(&m->tasks[out[pos - 1]]) < k)
            pos--;
        if (pos >= TOP)
            continue;
        size_t last = n < TOP ? n : TOP - 1;
        memmove(&out[pos + 1], &out[pos], (last - pos) * sizeof *out);
        out[pos] = i;
        if (n < TOP)
            n++;
    }
    return n;
}

static int64_t key_await(const lmr__task *t) { return t->longest_await; }

static void task_ref(FILE *out, const lmr__model *m, const lmr__task *t)
{
    char nb[NAME_SHOWN * 4 + 16];
    if (m->nloops > 1)
        fprintf(out, "loop %" PRIu32 " task %" PRIu64 " \"%s\"", t->loop,
                t->id, shown(t->name, nb, sizeof nb));
    else
        fprintf(out, "task %" PRIu64 " \"%s\"", t->id,
                shown(t->name, nb, sizeof nb));
}

/* The analysis is shared with the advise view (view_advise.c). */
static void print_advice(FILE *out, const lmr__model *m)
{
    lmr__advice a;
    lmr__advise_compute(m, &a);
    const char *text = lmr__advise_text(a.verdict);
    int64_t whole = a.running + a.await_io + a.await_sleep + a.await_thread +
                    a.await_other;
    char b1[32];
    fprintf(out, "\nadvice (seed 002, \"When to Use Which Approach\"):\n");
    fprintf(out, "  task time %s: running %.1f%%, awaiting I/O %.1f%%, "
                 "sleeping %.1f%%, in threads %.1f%%, other awaits %.1f%%\n",
            dur(whole, b1, sizeof b1), pct(a.running, whole),
            pct(a.await_io, whole), pct(a.await_sleep, whole),
            pct(a.await_thread, whole), pct(a.await_other, whole));
    if (a.verdict == LMR__ADV_NOTHING) {
        fprintf(out, "  %s\n", text);
        return;
    }
    fprintf(out, "  Waiting on I/O? %s", a.waits_on_io ? "yes" : "no");
    if (a.waits_on_io)
        fprintf(out, " -> Multiple I/O operations? %s",
                a.multiple_io ? "yes" : "no, just one");
    else {
        fprintf(out, " -> CPU-heavy? %s", a.cpu_heavy ? "yes" : "no");
        if (a.cpu_heavy)
            fprintf(out, " -> Need shared memory? %s",
                    a.shared_memory ? "yes" : "no");
    }
    fprintf(out, "\n  => %s\n", text);
}

int lmr_inspect_file(const char *path, int advise, FILE *out, FILE *warn,
                     lmr_error *err)
{
    lmr_error dummy;
    if (!err)
        err = &dummy;
    memset(err, 0, sizeof *err);
    const char *name;
    uint64_t size;
    FILE *fp = lmr__open_trace(path, &name, &size, err);
    if (!fp)
        return err->code;
    lmr__model m;
    lmr__progress_maybe(warn, size, "reading");
    int rc = lmr__model_build(fp, name, &m, warn, err);
    lmr__progress_set(NULL, 0, NULL);
    fclose(fp);
    if (rc)
        return rc;

    char b1[32], b2[32], nb[NAME_SHOWN * 4 + 16];
    const lmr__header *h = &m.header;
    fprintf(out, "trace: %s\n", name);
    fprintf(out, "program: \"%s\", clock: %s, format: %d%s\n",
            shown(h->program, nb, sizeof nb), h->clock ? h->clock : "?",
            h->version, m.truncated ? " (truncated)" : "");
    if (h->ring >= 0)
        fprintf(out, "flight recorder: ring of %" PRId64 " events, %" PRIu64
                     " events dropped in %" PRIu64 " gaps\n",
                h->ring, m.dropped, m.gaps);
    fprintf(out, "span: %s, %" PRIu64 " events, %" PRIu32 " loop%s, %" PRIu64
                 " ticks\n",
            dur(m.t_last - m.t_first, b1, sizeof b1), m.events, m.nloops,
            m.nloops == 1 ? "" : "s", m.ticks);
    uint64_t unfinished = m.ntasks - m.done - m.failed - m.cancelled;
    fprintf(out, "tasks: %zu: %" PRIu64 " done, %" PRIu64 " failed, %" PRIu64
                 " cancelled (%" PRIu64 " by timeout), %" PRIu64
                 " unfinished\n",
            m.ntasks, m.done, m.failed, m.cancelled, m.timed_out, unfinished);
    fprintf(out, "loop: %" PRIu64 " task steps, %" PRIu64 " callbacks, %" PRIu64
                 " polls waiting %s, %" PRIu64 " I/O wakeups, %" PRIu64
                 " timers, %" PRIu64 " notes\n",
            m.steps, m.calls, m.polls, dur(m.poll_waited, b2, sizeof b2),
            m.io_wakeups, m.timers_fired, m.notes);

    int64_t in[LMR__ST__COUNT] = {0};
    for (size_t i = 0; i < m.ntasks; i++)
        for (int s = 0; s < LMR__ST__COUNT; s++)
            in[s] += m.tasks[i].time_in[s];
    fprintf(out, "\ntime in each state (all tasks together):\n");
    for (int s = LMR__ST_CREATED; s <= LMR__ST_AWAITING; s++)
        fprintf(out, "  %-9s %s\n", st_names[s], dur(in[s], b1, sizeof b1));

    if (m.longest_step_task) {
        const lmr__task *t =
            lmr__model_task(&m, m.longest_step_loop, m.longest_step_task);
        fprintf(out, "\nlongest step: ");
        if (t)
            task_ref(out, &m, t);
        fprintf(out, " ran %s without awaiting%s\n",
                dur(m.longest_step, b1, sizeof b1),
                m.longest_step >= SLOW_STEP_NS
                    ? ": it blocked the loop (over asyncio's 100 ms "
                      "slow-callback threshold)"
                    : "");
    }

    size_t top[TOP];
    size_t n = top_tasks(&m, key_await, top);
    if (n) {
        fprintf(out, "\nlongest awaits:\n");
        for (size_t i = 0; i < n; i++) {
            const lmr__task *t = &m.tasks[top[i]];
            fprintf(out, "  %s on %s: ", dur(t->longest_await, b1, sizeof b1),
                    shown(t->longest_await_on, nb, sizeof nb));
            task_ref(out, &m, t);
            fputc('\n', out);
        }
    }

    if (m.failed) {
        fprintf(out, "\nfailures:\n");
        size_t shown_n = 0;
        for (size_t i = 0; i < m.ntasks; i++) {
            const lmr__task *t = &m.tasks[i];
            if (t->state != LMR__ST_FAILED)
                continue;
            if (shown_n++ == 20) {
                fprintf(out, "  ... %" PRIu64 " more\n", m.failed - 20);
                break;
            }
            fprintf(out, "  ");
            task_ref(out, &m, t);
            fprintf(out, ": %s\n", shown(t->error, nb, sizeof nb));
        }
    }

    size_t ncancel = 0;
    for (size_t i = 0; i < m.ntasks; i++)
        ncancel += m.tasks[i].cancel_reason != NULL;
    if (ncancel) {
        fprintf(out, "\ncancellations (what cancelled what):\n");
        size_t shown_n = 0;
        for (size_t i = 0; i < m.ntasks; i++) {
            const lmr__task *t = &m.tasks[i];
            if (!t->cancel_reason)
                continue;
            if (shown_n++ == 20) {
                fprintf(out, "  ... %zu more\n", ncancel - 20);
                break;
            }
            fprintf(out, "  ");
            task_ref(out, &m, t);
            fprintf(out, " cancelled by ");
            const lmr__task *by =
                t->cancelled_by ? lmr__model_task(&m, t->loop, t->cancelled_by)
                                : NULL;
            if (by)
                task_ref(out, &m, by);
            else
                fprintf(out, "the loop");
            fprintf(out, " (%s), ended %s\n",
                    shown(t->cancel_reason, nb, sizeof nb),
                    t->t_end >= 0 ? st_names[t->state] : "unfinished");
        }
    }
    if (advise)
        print_advice(out, &m);
    lmr__model_free(&m);
    return 0;
}
