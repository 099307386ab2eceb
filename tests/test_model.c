/*
 * test_model.c: pass 1 (the model: tasks, groups, loops, totals), the task
 * selection and the shared walker (filters and time window), on the
 * hand-written traces under tests/data/traces/.
 */
#include "lmr_internal.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static void load(const char *path, lmr__model *m)
{
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp, "%s", path);
    lmr_error err;
    int rc = lmr__model_build(fp, path, m, NULL, &err);
    fclose(fp);
    cr_assert_eq(rc, 0, "%s: %s", path, err.msg);
}

static lmr__model load_str(const char *text)
{
    FILE *fp = tmpfile();
    fputs(text, fp);
    rewind(fp);
    lmr__model m;
    lmr_error err;
    int rc = lmr__model_build(fp, "mem", &m, NULL, &err);
    fclose(fp);
    cr_assert_eq(rc, 0, "%s", err.msg);
    return m;
}

Test(model, gather_of_three)
{
    lmr__model m;
    load("tests/data/traces/gather3.yaml", &m);
    cr_expect_str_eq(m.header.program, "gather3");
    cr_expect_str_eq(m.header.clock, "virtual");
    cr_expect_eq(m.header.version, 1);
    cr_expect_eq(m.header.ring, -1);
    cr_expect_eq(m.ntasks, 4);
    cr_expect_eq(m.nloops, 1);
    cr_expect_str_eq(m.loops[0].name, "loop");
    cr_expect(m.loops[0].ended);
    cr_expect_eq(m.events, 44);
    cr_expect_eq(m.ticks, 4);
    cr_expect_eq(m.polls, 2);
    cr_expect_eq(m.poll_waited, 3000000);
    cr_expect_eq(m.io_wakeups, 3);
    cr_expect_eq(m.notes, 3);
    cr_expect_eq(m.done, 4);
    cr_expect_eq(m.steps, 8);
    cr_expect_eq(m.t_first, 0);
    cr_expect_eq(m.t_last, 3018000);
    cr_expect(!m.truncated);

    const lmr__task *b = lmr__model_task(&m, 1, 3);
    cr_assert_not_null(b);
    cr_expect_str_eq(b->name, "fetch(b.example)");
    cr_expect_eq(b->parent, 1);
    cr_expect_eq(b->ord, 2);
    cr_expect_eq(b->state, LMR__ST_DONE);
    cr_expect_eq(b->t_end, 2012000);
    cr_expect_eq(b->steps, 2);
    /* awaiting io from 8000 to 2010000 */
    cr_expect_eq(b->time_in[LMR__ST_AWAITING], 2002000);
    cr_expect_eq(b->longest_await, 2002000);
    cr_expect_str_eq(b->longest_await_on, "io");
    cr_expect_null(lmr__model_task(&m, 1, 5));
    cr_expect_null(lmr__model_task(&m, 2, 3));

    const lmr__group *g = lmr__model_group(&m, 1, 1);
    cr_assert_not_null(g);
    cr_expect_str_eq(g->kind, "gather");
    cr_expect_eq(g->nmembers, 3);
    cr_expect_eq(g->members[1], 3);
    cr_expect_str_eq(g->outcome, "ok");
    cr_expect_str_eq(g->mode, "fail_fast");
    cr_expect_eq(g->t_end, 3016000);
    cr_expect_null(lmr__model_group(&m, 1, 2));

    /* main awaited the gather 4000 -> 3016000 */
    const lmr__task *main_task = lmr__model_task(&m, 1, 1);
    cr_expect_eq(main_task->longest_await, 3012000);
    cr_expect_str_eq(main_task->longest_await_on, "gather");
    cr_expect_eq(m.await_other, 3012000);
    cr_expect_gt(m.await_io, 0);
    lmr__model_free(&m);
}

Test(model, timeout_and_failure)
{
    lmr__model m;
    load("tests/data/traces/timeout.yaml", &m);
    const lmr__task *slow = lmr__model_task(&m, 1, 2);
    cr_expect_eq(slow->state, LMR__ST_CANCELLED);
    cr_expect(slow->timed_out);
    cr_expect_eq(slow->cancelled_by, 1);
    cr_expect_str_eq(slow->cancel_reason, "timeout");
    cr_expect_eq(m.cancelled, 1);
    cr_expect_eq(m.timed_out, 1);
    cr_expect_eq(m.cancels, 1);
    cr_expect_str_eq(lmr__model_group(&m, 1, 1)->outcome, "timeout");
    cr_expect_eq(lmr__model_group(&m, 1, 1)->timeout, 5000000);
    lmr__model_free(&m);

    load("tests/data/traces/failure.yaml", &m);
    cr_expect_eq(m.failed, 2);
    cr_expect_str_eq(lmr__model_task(&m, 1, 2)->error, "LM_EUSER");
    cr_expect_eq(m.await_sleep, 1000000);
    lmr__model_free(&m);
}

Test(model, tasks_are_keyed_by_loop_and_id)
{
    lmr__model m = load_str(
        "loopmaid: 1\nevents:\n"
        "  - {t: 0, ev: loop_start, loop: 1, name: \"one\"}\n"
        "  - {t: 5, ev: spawn, task: 1, name: \"a\", parent: 0}\n"
        "  - {t: 0, ev: loop_start, loop: 2, name: \"two\"}\n"
        "  - {t: 1, ev: spawn, task: 1, name: \"b\", parent: 0, loop: 2}\n"
        "  - {t: 6, ev: name, task: 0, name: \"first\"}\n"
        "  - {t: 7, ev: loop_end, loop: 1}\n"
        "  - {t: 2, ev: loop_end, loop: 2}\n");
    cr_expect_eq(m.ntasks, 2);
    cr_expect_eq(m.nloops, 2);
    cr_expect_str_eq(lmr__model_task(&m, 1, 1)->name, "a");
    cr_expect_str_eq(lmr__model_task(&m, 2, 1)->name, "b");
    cr_expect_str_eq(lmr__model_loop(&m, 1)->name, "first");
    cr_expect_str_eq(lmr__model_loop(&m, 2)->name, "two");
    cr_expect_null(lmr__model_loop(&m, 3));
    cr_expect(!m.truncated);
    lmr__model_free(&m);
}

Test(model, flight_recorder_gap_relaxes_checks)
{
    lmr__model m = load_str(
        "loopmaid: 1\nring: 4\nevents:\n"
        "  - {t: 50, ev: gap, dropped: 120}\n"
        "  - {t: 50, ev: state, task: 7, from: awaiting, to: pending, by: "
        "timer}\n"
        "  - {t: 60, ev: state, task: 7, from: pending, to: running}\n"
        "  - {t: 70, ev: state, task: 7, from: running, to: done}\n"
        "  - {t: 80, ev: loop_end, loop: 1}\n");
    cr_expect_eq(m.gaps, 1);
    cr_expect_eq(m.dropped, 120);
    cr_expect_eq(m.header.ring, 4);
    const lmr__task *t = lmr__model_task(&m, 1, 7);
    cr_assert_not_null(t);
    cr_expect(t->implicit);
    cr_expect_str_eq(t->name, "task 7");
    cr_expect_eq(t->state, LMR__ST_DONE);
    cr_expect_eq(t->longest_step, 10);
    lmr__model_free(&m);
}

Test(model, names_change)
{
    lmr__model m = load_str(
        "loopmaid: 1\nevents:\n"
        "  - {t: 0, ev: loop_start, loop: 1, name: \"loop\"}\n"
        "  - {t: 0, ev: spawn, task: 1, name: \"old\", parent: 0}\n"
        "  - {t: 1, ev: name, task: 1, name: \"new\"}\n"
        "  - {t: 2, ev: loop_end, loop: 1}\n");
    cr_expect_str_eq(m.tasks[0].name, "new");
    lmr__model_free(&m);
}

/* ------------------------------------------------------------------------ */
/* Selection and the walker                                                 */
/* ------------------------------------------------------------------------ */

typedef struct rec {
    int kinds[LMR__EV__COUNT];
    uint64_t tasks_seen[8];
    int began, ended;
    int64_t tmin, tmax;
} rec;

static rec the_rec;

static int rec_begin(lmr__render_ctx *c)
{
    memset(&the_rec, 0, sizeof the_rec);
    the_rec.tmin = INT64_MAX;
    the_rec.tmax = -1;
    the_rec.began = 1;
    c->state = &the_rec;
    return 0;
}

static int rec_event(lmr__render_ctx *c, const lmr__event *e)
{
    rec *r = c->state;
    r->kinds[e->kind]++;
    if (e->task < 8 &&
        (e->kind == LMR__EV_STATE || e->kind == LMR__EV_SPAWN))
        r->tasks_seen[e->task]++;
    if (e->kind != LMR__EV_LOOP_START && e->kind != LMR__EV_LOOP_END) {
        if (e->t < r->tmin)
            r->tmin = e->t;
        if (e->t > r->tmax)
            r->tmax = e->t;
    }
    return 0;
}

static int rec_end(lmr__render_ctx *c)
{
    ((rec *)c->state)->ended = 1;
    return 0;
}

static const lmr__renderer recorder = {"rec", rec_begin, rec_event, rec_end};

static int walk(const char *path, lmr_options *o, lmr_error *err)
{
    FILE *fp = fopen(path, "rb");
    lmr__model m;
    int rc = lmr__model_build(fp, path, &m, NULL, err);
    cr_assert_eq(rc, 0);
    rc = lmr__select(&m, o, err);
    if (rc == 0) {
        rewind(fp);
        lmr_buf buf = {0};
        lmr__out out = {.buf = &buf, .max_chars = 50000};
        rc = lmr__walk(fp, path, &m, o, &recorder, &out, err);
        lmr_buf_free(&buf);
    }
    lmr__model_free(&m);
    fclose(fp);
    return rc;
}

Test(walk, no_filter_sees_everything)
{
    lmr_options o;
    lmr_options_init(&o);
    lmr_error err;
    cr_assert_eq(walk("tests/data/traces/gather3.yaml", &o, &err), 0);
    cr_expect(the_rec.began && the_rec.ended);
    cr_expect_eq(the_rec.kinds[LMR__EV_STATE], 24);
    cr_expect_eq(the_rec.kinds[LMR__EV_TICK], 4);
    cr_expect_eq(the_rec.kinds[LMR__EV_NOTE], 3);
    cr_expect_eq(the_rec.kinds[LMR__EV_LOOP_START], 1);
}

Test(walk, tasks_regex_keeps_loop_wide_events)
{
    lmr_options o;
    lmr_options_init(&o);
    o.tasks = "^fetch\\(b";
    lmr_error err;
    cr_assert_eq(walk("tests/data/traces/gather3.yaml", &o, &err), 0);
    cr_expect_eq(the_rec.tasks_seen[3], 7); /* spawn + 6 state events */
    cr_expect_eq(the_rec.tasks_seen[1], 0);
    cr_expect_eq(the_rec.tasks_seen[2], 0);
    cr_expect_eq(the_rec.kinds[LMR__EV_TICK], 4);
    cr_expect_eq(the_rec.kinds[LMR__EV_POLL], 2);
    cr_expect_eq(the_rec.kinds[LMR__EV_IO], 1);
    /* the group has task 3 as a member: kept */
    cr_expect_eq(the_rec.kinds[LMR__EV_GROUP], 1);
    cr_expect_eq(the_rec.kinds[LMR__EV_GROUP_END], 1);
    cr_expect_eq(the_rec.kinds[LMR__EV_NOTE], 0); /* notes by tasks 1, 2 */
}

Test(walk, exclude_regex)
{
    lmr_options o;
    lmr_options_init(&o);
    o.exclude = "fetch";
    lmr_error err;
    cr_assert_eq(walk("tests/data/traces/gather3.yaml", &o, &err), 0);
    cr_expect_gt(the_rec.tasks_seen[1], 0);
    cr_expect_eq(the_rec.tasks_seen[2] + the_rec.tasks_seen[3] +
                     the_rec.tasks_seen[4],
                 0);
    cr_expect_eq(the_rec.kinds[LMR__EV_GROUP], 1); /* owner 1 kept */
}

Test(walk, time_window)
{
    lmr_options o;
    lmr_options_init(&o);
    o.from = 2000000;
    o.to = 3012000;
    lmr_error err;
    cr_assert_eq(walk("tests/data/traces/gather3.yaml", &o, &err), 0);
    cr_expect_eq(the_rec.tmin, 2010000);
    cr_expect_eq(the_rec.tmax, 3012000);
    cr_expect_eq(the_rec.kinds[LMR__EV_LOOP_START], 1);
    cr_expect_eq(the_rec.kinds[LMR__EV_LOOP_END], 1);
    cr_expect_eq(the_rec.kinds[LMR__EV_TICK], 1);
}

Test(walk, bad_regex_is_reported)
{
    lmr_options o;
    lmr_options_init(&o);
    o.tasks = "(unclosed";
    lmr_error err;
    cr_expect_eq(walk("tests/data/traces/gather3.yaml", &o, &err), LMR_EREGEX);
    cr_expect_str_eq(err.file, "--tasks");
    cr_expect(strstr(err.msg, "offset 9") != NULL, "%s", err.msg);
}

Test(walk, renderer_for_every_view)
{
    for (int v = 0; v < LMR_VIEW__COUNT; v++) {
        const lmr__renderer *r = lmr__renderer_for((lmr_view)v);
        cr_assert_not_null(r);
        cr_expect_str_eq(r->name, lmr_view_name((lmr_view)v));
        cr_expect_eq(lmr_view_parse(r->name), v);
    }
    cr_expect_null(lmr__renderer_for(LMR_VIEW__COUNT));
    cr_expect_lt(lmr_view_parse("nope"), 0);
}

/* Pass 2 from the spill must give the same bytes as pass 2 from the YAML. */
static void render_both(const char *path, lmr_view v)
{
    lmr_options o;
    lmr_options_init(&o);
    o.view = v;
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp);
    FILE *spill = tmpfile();
    lmr__tee tee = {.spill = spill};
    lmr__model m;
    lmr_error err;
    cr_assert_eq(lmr__model_build_via(fp, path, &m, NULL, lmr__read_teed,
                                      &tee, &err), 0, "%s", err.msg);
    cr_assert_eq(tee.rc, 0);
    rewind(fp);
    rewind(spill);
    lmr_buf a = {0}, b = {0};
    lmr__out oa = {.buf = &a, .max_chars = 50000};
    lmr__out ob = {.buf = &b, .max_chars = 50000};
    const lmr__renderer *r = lmr__renderer_for(v);
    cr_assert_eq(lmr__walk(fp, path, &m, &o, r, &oa, &err), 0, "%s", err.msg);
    cr_assert_eq(lmr__walk_spill(spill, path, &m, &o, r, &ob, &err), 0, "%s",
                 err.msg);
    cr_assert_gt(a.len, 0);
    cr_expect_eq(a.len, b.len, "%s %s: %zu vs %zu bytes", path,
                 lmr_view_name(v), a.len, b.len);
    cr_expect(a.len == b.len && memcmp(a.data, b.data, a.len) == 0,
              "%s %s differs", path, lmr_view_name(v));
    lmr_buf_free(&a);
    lmr_buf_free(&b);
    lmr__model_free(&m);
    fclose(spill);
    fclose(fp);
}

Test(walk, spill_replay_matches_yaml)
{
    const char *files[] = {"tests/data/traces/gather3.yaml",
                           "tests/data/traces/timeout.yaml",
                           "tests/data/traces/failure.yaml",
                           "tests/data/hostile.yaml"};
    for (size_t f = 0; f < 4; f++)
        for (int v = 0; v < LMR_VIEW__COUNT; v++)
            render_both(files[f], (lmr_view)v);
}

/* What the views need to tell the truth about groups and causes
 * (tests/data/views/causes.yaml). */
Test(model, group_tally_counts_members_not_the_group)
{
    lmr__model m;
    load("tests/data/views/causes.yaml", &m);
    cr_assert_eq(m.ngroups, 3);
    lmr__tally t;
    const lmr__group *tg = lmr__model_group(&m, 1, 1);
    cr_assert_not_null(tg);
    cr_expect_str_eq(tg->outcome, "failed");
    cr_expect_str_eq(tg->error, "LM_EUSER");
    lmr__group_tally(&m, tg, -1, &t);
    cr_expect_eq(t.failed, 1);
    cr_expect_eq(t.cancelled, 2);
    cr_expect_eq(t.done, 0);
    cr_assert_not_null(t.first_failed);
    cr_expect_str_eq(t.first_failed->name, "tg fails");
    cr_expect_str_eq(t.first_failed->message, "disk full");
    cr_expect_str_eq(t.first_failed->error, "LM_EUSER");
    /* wait(FIRST_COMPLETED): at its return quick was done and slow
     * pending, although slow is cancelled at the same virtual time */
    const lmr__group *w = lmr__model_group(&m, 1, 2);
    lmr__group_tally(&m, w, -1, &t);
    cr_expect_eq(t.returned_done, 1);
    cr_expect_eq(t.returned_pending, 1);
    cr_expect_eq(t.done, 1);
    cr_expect_eq(t.cancelled, 1);
    /* as seen at 15 ms: nothing had ended, nothing returned */
    lmr__group_tally(&m, w, 15000000, &t);
    cr_expect_eq(t.unfinished, 2);
    cr_expect_eq(t.returned_done + t.returned_pending, 0);
    const lmr__group *wf = lmr__model_group(&m, 1, 3);
    lmr__group_tally(&m, wf, -1, &t);
    cr_expect_eq(t.timed_out, 1);
    lmr__model_free(&m);
}

Test(model, cancel_records_who_when_and_why)
{
    lmr__model m;
    load("tests/data/views/causes.yaml", &m);
    const lmr__task *sib = lmr__model_task(&m, 1, 3);
    cr_expect_eq(sib->cancelled_by, 2, "cancelled BY the failing member");
    cr_expect_str_eq(sib->cancel_reason, "group");
    cr_expect_eq(sib->t_cancel, 10000000);
    const lmr__task *slow = lmr__model_task(&m, 1, 6);
    cr_expect_eq(slow->cancelled_by, 1);
    cr_expect_str_eq(slow->cancel_reason, "explicit");
    cr_expect(!slow->timed_out);
    const lmr__task *call = lmr__model_task(&m, 1, 7);
    cr_expect(call->timed_out);
    const lmr__task *q = lmr__model_task(&m, 1, 5);
    cr_expect_eq(q->t_cancel, -1, "never cancelled");
    cr_expect_null(q->message);
    lmr__model_free(&m);
}

/* Groups are found by (loop, id) whatever order they were recorded in (the
 * sorted index carries its own keys), and the model keeps each token's id. */
Test(model, groups_of_two_loops_and_their_token_ids)
{
    lmr__model m = load_str(
        "loopmaid: 1\nprogram: \"p\"\nclock: virtual\nevents:\n"
        "  - {t: 0, ev: spawn, task: 1, name: \"a\", parent: 0, loop: 2}\n"
        "  - {t: 0, ev: loop_start, loop: 2}\n"
        "  - {t: 0, ev: spawn, task: 1, name: \"b\", parent: 0}\n"
        "  - {t: 0, ev: loop_start, loop: 1}\n"
        "  - {t: 1, ev: group, group: 2, kind: wait, owner: 1, members: [], "
        "mode: first_completed, loop: 2}\n"
        "  - {t: 1, ev: group, group: 1, kind: gather, owner: 1, members: [], "
        "loop: 2}\n"
        "  - {t: 1, ev: group, group: 1, kind: taskgroup, owner: 1, "
        "members: []}\n"
        "  - {t: 2, ev: group_end, group: 1, outcome: timeout, loop: 2}\n"
        "  - {t: 2, ev: group_end, group: 2, outcome: sideways, loop: 2}\n"
        "  - {t: 3, ev: cancel, task: 1, reason: shutdown}\n"
        "  - {t: 4, ev: loop_end, loop: 2}\n"
        "  - {t: 4, ev: loop_end, loop: 1}\n");
    const lmr__group *g = lmr__model_group(&m, 2, 1);
    cr_assert_not_null(g);
    cr_expect_eq(g->kind_id, LMR__GK_GATHER);
    cr_expect_eq(g->outcome_id, LMR__OUT_TIMEOUT);
    g = lmr__model_group(&m, 2, 2);
    cr_assert_not_null(g);
    cr_expect_eq(g->kind_id, LMR__GK_WAIT);
    cr_expect_eq(g->outcome_id, LMR__OUT_OTHER);
    cr_expect_str_eq(g->outcome, "sideways"); /* an open set: as written */
    g = lmr__model_group(&m, 1, 1);
    cr_assert_not_null(g);
    cr_expect_eq(g->kind_id, LMR__GK_TASKGROUP);
    cr_expect_eq(g->outcome_id, LMR__OUT_NONE); /* never ended */
    cr_expect_null(lmr__model_group(&m, 1, 2));
    cr_expect_null(lmr__model_group(&m, 3, 1));
    const lmr__task *t = lmr__model_task(&m, 1, 1);
    cr_assert_not_null(t);
    cr_expect_eq(t->cancel_reason_id, LMR__REASON_SHUTDOWN);
    cr_expect_str_eq(t->cancel_reason, "shutdown");
    lmr__model_free(&m);
}
