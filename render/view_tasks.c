/*
 * view_tasks.c: `--view tasks`, a flowchart of the task tree (who spawned
 * whom) and the await structure (gather / wait / task group / wait_for as
 * hexagon nodes between their owner and their members), each task styled and
 * labelled by how it ended, and every cancellation by its cause.
 *
 * Layout: `flowchart LR`, so the tree's breadth (many siblings) grows down
 * the page and only its depth across it; a docs page is ~900 px wide. A
 * member spawned by the group's owner hangs from the group node only (the
 * parent edge would repeat the same pair). A loop node is drawn above the
 * roots when it says something: several loops or roots, the window shown,
 * what was left out; one root task alone is the top of the tree. No legend:
 * every node
 * says its outcome in words, the colours only repeat it.
 *
 * What is drawn when not everything fits: the tasks lmr__rank puts first
 * (failed, timed out, cancelled, the slowest, then spawn order), each with
 * its ancestors so the tree stays connected, at most --max-nodes of them and
 * --max-children under one task; the others of a parent fold into one
 * "... and N more: 3 done, 2 cancelled" node. Groups: --max-groups, with at
 * most --max-members member edges each. Edges stay under Mermaid's 500 and
 * lines under the character budget. Memory: a few words per task.
 *
 * --from/--to: tasks alive inside the window; an outcome reached after the
 * window's end is shown as "alive at the window's end".
 */
#include "lmr_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEF_NODES 150
#define DEF_CHILDREN 8
#define DEF_GROUPS 30
#define DEF_MEMBERS 10
#define EDGE_CAP 440     /* leaves room below Mermaid's 500 */
#define NAME_CP 28       /* task names in node labels */
#define WHO_CP 22        /* a task named inside a cause */
#define NOTE_RESERVE 400 /* the closing caption */

#define NONE SIZE_MAX

typedef struct tk_data {
    const lmr__model *m;
    const lmr_options *o;
    size_t n;
    size_t *parent;     /* index of the drawn parent; NONE = a root */
    size_t *first, *next; /* chosen children, spawn order; slots n.. = loops */
    size_t *kids;       /* chosen children per slot */
    size_t *via;        /* group index a member hangs from; NONE = parent */
    bool *chosen;
    bool *written;      /* chosen and its node was written */
    bool selective;     /* not every task could be drawn: lmr__rank chose */
    size_t nodes, edges, folds;
    lmr_buf scratch;
    uint32_t nloops;    /* at least 1 */
    size_t slots;       /* n tasks, then one per loop */
    bool *gdrawn;       /* per group: its node is (still) to be drawn */
    size_t eligible;    /* tasks in the window */
    size_t shown;       /* task nodes written */
    size_t groups_eligible, groups_shown;
    bool stop;          /* a task node did not fit: no more nodes, only
                           the loop nodes and their caption */
    bool loop_fold;     /* a fold node hangs from a loop node */
} tk_data;

static const char *outcome_class(const lmr_options *o, const lmr__task *t)
{
    switch (lmr__interest(o, t)) {
    case LMR__INT_FAILED: return "fail";
    case LMR__INT_TIMED_OUT: return "tout";
    case LMR__INT_CANCELLED: return "canc";
    default: break;
    }
    bool ended = t->t_end >= 0 && (o->to < 0 || t->t_end <= o->to);
    return ended && t->state == LMR__ST_DONE ? "ok" : "live";
}

static bool ended_in_window(const lmr_options *o, const lmr__task *t)
{
    return t->t_end >= 0 && (o->to < 0 || t->t_end <= o->to);
}

/* The loop slot of a task (loops are few: a scan). */
static size_t loop_slot(const tk_data *d, uint32_t loop)
{
    for (uint32_t k = 0; k < d->m->nloops; k++)
        if (d->m->loops[k].id == loop)
            return d->n + k;
    return d->n;
}

static size_t slot_of(const tk_data *d, size_t i)
{
    return d->parent[i] == NONE ? loop_slot(d, d->m->tasks[i].loop)
                                : d->parent[i];
}

static void slot_id(lmr__out *l, const tk_data *d, size_t slot)
{
    if (slot >= d->n)
        lmr__id(l, "lp", d->m->nloops ? d->m->loops[slot - d->n].id : 1);
    else
        lmr__id(l, "t", (uint64_t)d->m->tasks[slot].ord + 1);
}

/* Commits the scratch line when it fits; false otherwise. */
static bool commit(lmr__out *o, tk_data *d)
{
    if (!lmr__fits(o, d->scratch.len))
        return false;
    lmr__outn(o, d->scratch.data, d->scratch.len);
    return true;
}

static const char *name_of(const lmr__task *t)
{
    return t && t->name ? t->name : "?";
}

/* The group a task was a member of (the first one; NULL = none). O(groups
 * * members) in the worst case, called only for drawn cancelled tasks. */
static const lmr__group *group_of(const lmr__model *m, const lmr__task *t)
{
    for (size_t gi = 0; gi < m->ngroups; gi++) {
        const lmr__group *g = &m->groups[gi];
        if (g->loop != t->loop)
            continue;
        for (size_t k = 0; k < g->nmembers; k++)
            if (g->members[k] == t->id)
                return g;
    }
    return NULL;
}

/*
 * Why a task was cancelled, in one or two lines: by whom and why, as the
 * trace says it (a sibling of a failed group member, the owner after
 * wait() returned, wait_for's deadline, shutdown, a signal).
 */
static void cancel_cause(lmr__out *l, const tk_data *d, const lmr__task *t)
{
    const lmr__model *m = d->m;
    const lmr__task *by = t->cancelled_by
                              ? lmr__model_task(m, t->loop, t->cancelled_by)
                              : NULL;
    const char *reason = t->cancel_reason ? t->cancel_reason : "explicit";
    lmr__reason rid = t->cancel_reason_id == LMR__REASON_NONE
                          ? LMR__REASON_EXPLICIT : t->cancel_reason_id;
    const lmr__group *g = group_of(m, t);
    char l1[128], l2[128], nm[WHO_CP * 4 + 8];
    l2[0] = '\0';
    if (t->timed_out) {
        char dur[32] = "";
        if (g && g->timeout >= 0)
            lmr__fmt_dur(dur, sizeof dur, g->timeout);
        snprintf(l1, sizeof l1, "by the wait_for deadline%s%s", *dur ? " of " : "",
                 dur);
    } else if (rid == LMR__REASON_SHUTDOWN) {
        snprintf(l1, sizeof l1, "at loop shutdown");
    } else if (rid == LMR__REASON_SIGNAL) {
        snprintf(l1, sizeof l1, "by a signal");
    } else {
        if (by && by == t) /* an old tracer's record for a failing member */
            snprintf(l1, sizeof l1, "by itself (as recorded)");
        else if (by) {
            lmr__cut_name(nm, sizeof nm, name_of(by), WHO_CP);
            snprintf(l1, sizeof l1, "by %s", nm);
        } else
            snprintf(l1, sizeof l1, "by code outside tasks");
        if (rid == LMR__REASON_GROUP) {
            lmr__tally tl = {0};
            if (g)
                lmr__group_tally(m, g, d->o->to, &tl);
            bool owner = by && g && g->owner == by->id;
            if (by && by != t && !owner && by->state == LMR__ST_FAILED)
                snprintf(l2, sizeof l2, "a sibling that failed");
            else if (tl.first_failed && tl.first_failed != t) {
                lmr__cut_name(nm, sizeof nm, name_of(tl.first_failed), WHO_CP);
                snprintf(l2, sizeof l2, "after %s failed", nm);
            } else
                snprintf(l2, sizeof l2, "its group");
        } else if (g && by && g->owner == by->id && g->t_end >= 0 &&
                   t->t_cancel >= g->t_end) {
            /* The program cancelled it once the await returned: it was
             * the owner, not wait(). */
            snprintf(l2, sizeof l2, "after %.20s() returned",
                     g->kind ? g->kind : "wait");
        } else if (rid != LMR__REASON_EXPLICIT || lmr__speaks_asyncio(d->o)) {
            /* "cancelled by main" says it all for a plain cancel */
            snprintf(l2, sizeof l2, "%s", lmr__cancel_words(d->o, reason));
        }
    }
    lmr__esc_label(l, l1, 48);
    if (*l2) {
        lmr__puts(l, "<br/>");
        lmr__esc_label(l, l2, 48);
    }
}

static void task_node(lmr__out *l, const tk_data *d, const lmr__task *t)
{
    const lmr_options *o = d->o;
    lmr__puts(l, "    ");
    lmr__id(l, "t", (uint64_t)t->ord + 1);
    lmr__puts(l, "[\"");
    lmr__esc_label(l, name_of(t), NAME_CP);
    lmr__puts(l, "<br/>");
    if (!ended_in_window(o, t)) {
        lmr__esc_label(l, t->t_end >= 0 ? "still alive at window end"
                                        : "never finished", 0);
    } else if (t->state == LMR__ST_FAILED) {
        lmr__esc_label(l, lmr__state_label(o, t->state), 0);
        lmr__puts(l, ": ");
        /* lm_fail's message reads better than the error's name. */
        lmr__esc_label(l, t->message ? t->message
                          : t->error ? t->error : "error", NAME_CP);
    } else if (t->state == LMR__ST_CANCELLED) {
        lmr__esc_label(l, t->timed_out ? "timed out"
                                       : lmr__state_label(o, t->state), 0);
        lmr__puts(l, "<br/>");
        cancel_cause(l, d, t);
    } else {
        /* When tasks were left out, how long each lived (spawn to end)
         * says why the slowest were drawn; otherwise it only widens. */
        char dur[32] = "", txt[96];
        if (d->selective && t->t_end > t->t_spawn)
            lmr__fmt_dur(dur, sizeof dur, t->t_end - t->t_spawn);
        snprintf(txt, sizeof txt, "%s%s%s", lmr__state_label(o, t->state),
                 *dur ? " after " : "", dur);
        lmr__esc_label(l, txt, 0);
    }
    lmr__printf(l, "\"]:::%s\n", outcome_class(o, t));
}

/* Appends "1 failed, 2 done" style counts; returns false when all zero. */
static bool counts_text(char *dst, size_t n, const size_t *cnt,
                        const char *const *what, size_t k)
{
    size_t len = 0;
    dst[0] = '\0';
    for (size_t i = 0; i < k && len < n; i++) {
        if (!cnt[i])
            continue;
        int w = snprintf(dst + len, n - len, "%s%zu %s", len ? ", " : "",
                         cnt[i], what[i]);
        if (w < 0)
            break;
        len += (size_t)w;
    }
    return len > 0;
}

/* "gather" / "wait first_completed" / asyncio.wait(FIRST_COMPLETED)... */
static void group_title(const tk_data *d, const lmr__group *g, char *dst,
                        size_t n)
{
    const char *kind = g->kind ? g->kind : "group";
    char dur[32] = "";
    if (g->timeout >= 0)
        lmr__fmt_dur(dur, sizeof dur, g->timeout);
    if (lmr__speaks_asyncio(d->o)) {
        char mode[40] = "";
        for (size_t i = 0; g->mode && g->mode[i] && i + 1 < sizeof mode; i++) {
            char c = g->mode[i];
            mode[i] = g->kind_id == LMR__GK_WAIT && c >= 'a' && c <= 'z'
                          ? (char)(c - 'a' + 'A') : c;
            mode[i + 1] = '\0';
        }
        if (g->kind_id == LMR__GK_TASKGROUP)
            snprintf(dst, n, "asyncio.TaskGroup()");
        else if (g->kind_id == LMR__GK_GATHER)
            snprintf(dst, n, "asyncio.gather(%s)",
                     g->mode && strcmp(g->mode, "return_exceptions") == 0
                         ? "return_exceptions=True" : "");
        else if (g->kind_id == LMR__GK_WAIT_FOR)
            snprintf(dst, n, "asyncio.wait_for(%s)", dur);
        else
            snprintf(dst, n, "asyncio.%.12s(%s%s%s)", kind, mode,
                     *dur && *mode ? ", " : "", dur);
        return;
    }
    snprintf(dst, n, "%.20s%s%.30s%s%s", kind, g->mode ? " " : "",
             g->mode ? g->mode : "", *dur ? " timeout " : "", dur);
}

/* What the await gave its owner: results, the done / pending sets, the
 * error it raised. Empty when there is nothing to say. */
static void group_result(const tk_data *d, const lmr__group *g,
                         const lmr__tally *tl, char *dst, size_t n)
{
    const char *out = g->outcome;
    const lmr__task *ff = tl->first_failed;
    const char *ffw = ff ? (ff->message ? ff->message
                            : ff->error ? ff->error : "an error") : NULL;
    bool a = lmr__speaks_asyncio(d->o);
    dst[0] = '\0';
    if (!out || (d->o->to >= 0 && g->t_end > d->o->to)) {
        snprintf(dst, n, "%s", out ? "still awaited at window end"
                                   : "still awaited at the end");
    } else if (g->kind_id == LMR__GK_WAIT) {
        snprintf(dst, n, "returned %zu done, %zu pending", tl->returned_done,
                 tl->returned_pending);
    } else if (g->outcome_id == LMR__OUT_TIMEOUT) {
        snprintf(dst, n, "%s", a ? "raised TimeoutError"
                                 : "timeout error to the owner");
    } else if (g->outcome_id == LMR__OUT_CANCELLED) {
        snprintf(dst, n, "%s", a ? "raised CancelledError" : "cancelled");
    } else if (g->outcome_id == LMR__OUT_FAILED) {
        if (g->kind_id == LMR__GK_TASKGROUP && a)
            snprintf(dst, n, "raised ExceptionGroup: %.40s", ffw ? ffw : "?");
        else
            snprintf(dst, n, "raised %.40s",
                     ffw ? ffw : g->error ? g->error : "an error");
    } else if (g->kind_id == LMR__GK_GATHER) {
        /* return_exceptions: the failures are in the list, as values */
        snprintf(dst, n, "%s", tl->failed ? "results in order, errors in it"
                                          : "results in order");
    } else if (g->kind_id == LMR__GK_WAIT_FOR) {
        snprintf(dst, n, "returned the result");
    }
}

/* Whether a label repeats what the node already says ("gather(A, B, C)" is
 * the members' names, which are drawn). */
static bool label_is_generated(const lmr__group *g)
{
    if (!g->label || !g->kind)
        return true;
    size_t k = strlen(g->kind);
    return strcmp(g->label, g->kind) == 0 ||
           (strncmp(g->label, g->kind, k) == 0 && g->label[k] == '(');
}

/* Chooses the drawn tasks: lmr__rank's order, each with its ancestors, under
 * the node and children caps. chain has room for n entries. */
static void choose(tk_data *d, const size_t *rank, size_t nrank,
                   size_t max_nodes, size_t max_children, size_t *chain)
{
    for (size_t r = 0; r < nrank && d->nodes < max_nodes; r++) {
        size_t i = rank[r];
        if (d->chosen[i])
            continue;
        /* The ancestors not drawn yet, up to a drawn one or a root. */
        size_t nc = 0;
        for (size_t cur = i; cur != NONE && !d->chosen[cur] && nc < d->n;
             cur = d->parent[cur])
            chain[nc++] = cur;
        if (d->nodes + nc > max_nodes)
            continue;
        bool fits = true;
        for (size_t k = 0; k < nc && fits; k++)
            /* Each link adds one child to the slot above it; only the top
             * one can find its slot full (the others are new nodes). */
            if (k + 1 == nc && d->kids[slot_of(d, chain[k])] >= max_children)
                fits = false;
        if (!fits)
            continue;
        for (size_t k = 0; k < nc; k++) {
            d->chosen[chain[k]] = true;
            d->kids[slot_of(d, chain[k])]++;
            d->nodes++;
        }
    }
}

/* The drawn slot a task that is not drawn is folded into: its nearest drawn
 * ancestor, or its loop. memo[i] caches it (NONE = not known yet). */
static size_t fold_slot(const tk_data *d, size_t i, size_t *memo)
{
    size_t cur = i, found = NONE;
    while (found == NONE) {
        size_t p = d->parent[cur];
        if (p == NONE)
            found = loop_slot(d, d->m->tasks[cur].loop);
        else if (d->chosen[p])
            found = p;
        else if (memo[p] != NONE)
            found = memo[p];
        else
            cur = p;
    }
    for (cur = i; cur != NONE && memo[cur] == NONE && !d->chosen[cur];
         cur = d->parent[cur])
        memo[cur] = found;
    return found;
}

/* The fold node under `slot` for its children that were not chosen. */
static bool fold_node(lmr__out *o, tk_data *d, size_t slot, size_t group,
                      const size_t *cnt, size_t total)
{
    static const char *const what[] = {"failed", "timed out", "cancelled",
                                       "done", "unfinished"};
    char txt[200], list[160];
    lmr__out l;
    lmr__out_scratch(&l, &d->scratch);
    lmr__puts(&l, "    ");
    lmr__id(&l, "f", d->folds + 1);
    lmr__puts(&l, "[\"");
    snprintf(txt, sizeof txt, "\xE2\x80\xA6 and %zu more task%s", total,
             total == 1 ? "" : "s");
    lmr__esc_label(&l, txt, 0);
    if (counts_text(list, sizeof list, cnt, what, 5)) {
        lmr__puts(&l, "<br/>");
        lmr__esc_label(&l, list, 60);
    }
    lmr__puts(&l, "\"]:::more\n    ");
    if (group != NONE) { /* they are all members of this drawn group */
        lmr__id(&l, "g", group + 1);
        lmr__puts(&l, " -.-> ");
    } else {
        slot_id(&l, d, slot);
        lmr__puts(&l, " --> ");
    }
    lmr__id(&l, "f", d->folds + 1);
    lmr__puts(&l, "\n");
    if (d->edges + 1 >= EDGE_CAP || !commit(o, d))
        return false;
    d->folds++;
    d->edges++;
    return true;
}

static int outcome_index(const lmr_options *o, const lmr__task *t)
{
    switch (lmr__interest(o, t)) {
    case LMR__INT_FAILED: return 0;
    case LMR__INT_TIMED_OUT: return 1;
    case LMR__INT_CANCELLED: return 2;
    default: return ended_in_window(o, t) && t->state == LMR__ST_DONE ? 3 : 4;
    }
}

/* A chosen task whose node made it into the output. */
static bool shown_task(const tk_data *d, size_t i)
{
    return d->chosen[i] && d->written && d->written[i];
}

static int tk_begin(lmr__render_ctx *c)
{
    (void)c;
    return 0;
}

/* ---- choosing what is drawn -------------------------------------------- */

/* The drawn parent of each task: its own, when that is in the window.
 * Counts the tasks in the window (d->eligible). */
static void drawn_parents(tk_data *d)
{
    const lmr__model *m = d->m;
    for (size_t i = 0; i < d->n; i++) {
        const lmr__task *t = &m->tasks[i];
        d->parent[i] = NONE;
        if (!lmr__task_in_window(d->o, t))
            continue;
        d->eligible++;
        if (t->parent) {
            const lmr__task *p = lmr__model_task(m, t->loop, t->parent);
            if (p && p != t && lmr__task_in_window(d->o, p))
                d->parent[i] = (size_t)(p - m->tasks);
        }
    }
}

/* The tasks drawn, in lmr__rank's order (choose). 0 or LMR_ENOMEM. */
static int choose_tasks(tk_data *d)
{
    size_t *rank = malloc((d->n ? d->n : 1) * sizeof *rank);
    if (!rank)
        return LMR_ENOMEM;
    size_t nrank = lmr__rank(d->m, d->o, rank, NULL);
    choose(d, rank, nrank, lmr__cap(d->o->max_nodes, DEF_NODES),
           lmr__cap(d->o->max_children, DEF_CHILDREN), d->via /* scratch */);
    d->selective = d->nodes < nrank;
    free(rank);
    return 0;
}

/*
 * Groups: whose owner is drawn, in order, under the caps. When there are
 * more than --max-groups, only those with a drawn member: a group node over
 * members that are all folded away says little. A member the owner spawned
 * hangs from the group node instead of the owner (d->via).
 */
static void choose_groups(tk_data *d)
{
    const lmr__model *m = d->m;
    const lmr_options *opt = d->o;
    size_t max_groups = lmr__cap(opt->max_groups, DEF_GROUPS);
    for (size_t i = 0; i < d->n; i++)
        d->via[i] = NONE;
    for (int pass = 0; pass < 2; pass++)
        for (size_t gi = 0; gi < m->ngroups; gi++) {
            const lmr__group *g = &m->groups[gi];
            const lmr__task *ow = lmr__model_task(m, g->loop, g->owner);
            if (!ow || !lmr__task_in_window(opt, ow))
                continue;
            if (opt->to >= 0 && g->t_start > opt->to)
                continue;
            if (g->t_end >= 0 && g->t_end < opt->from)
                continue;
            if (pass == 0) {
                d->groups_eligible++;
                continue;
            }
            if (!d->chosen[ow - m->tasks] || d->groups_shown >= max_groups)
                continue;
            bool any = d->groups_eligible <= max_groups;
            for (size_t k = 0; k < g->nmembers && !any; k++) {
                const lmr__task *mt = lmr__model_task(m, g->loop, g->members[k]);
                any = mt && d->chosen[mt - m->tasks];
            }
            if (!any)
                continue;
            d->gdrawn[gi] = true;
            d->groups_shown++;
            for (size_t k = 0; k < g->nmembers; k++) {
                const lmr__task *mt = lmr__model_task(m, g->loop, g->members[k]);
                if (!mt)
                    continue;
                size_t mi = (size_t)(mt - m->tasks);
                if (d->parent[mi] == (size_t)(ow - m->tasks) &&
                    d->via[mi] == NONE)
                    d->via[mi] = gi;
            }
        }
}

/* Chosen children lists, spawn order (m->tasks is sorted by id; ord is
 * spawn order, and within one loop ids grow with it). */
static void link_children(tk_data *d)
{
    for (size_t s = 0; s < d->slots; s++)
        d->first[s] = NONE;
    for (size_t i = d->n; i-- > 0;) {
        d->next[i] = NONE;
        if (!d->chosen[i])
            continue;
        size_t s = slot_of(d, i);
        d->next[i] = d->first[s];
        d->first[s] = i;
    }
}

/* ---- writing ------------------------------------------------------------ */

/* "    FROM --> t<ord>" into the scratch line l. */
static void tree_edge(lmr__out *l, const tk_data *d, size_t from_slot,
                      const lmr__task *t)
{
    lmr__puts(l, "    ");
    slot_id(l, d, from_slot);
    lmr__puts(l, " --> ");
    lmr__id(l, "t", (uint64_t)t->ord + 1);
    lmr__puts(l, "\n");
}

/*
 * The tasks, breadth first from each loop (the loop nodes come last: they
 * carry the caption, and Mermaid does not mind the order). Stops at the
 * first node that does not fit (d->stop). 0 or LMR_ENOMEM.
 */
static int write_tasks(lmr__out *o, tk_data *d)
{
    const lmr__model *m = d->m;
    size_t n = d->n;
    size_t *queue = malloc(d->slots * sizeof *queue);
    if (!queue)
        return LMR_ENOMEM;
    lmr__out l;
    size_t qh = 0, qt = 0;
    for (uint32_t k = 0; k < d->nloops; k++)
        queue[qt++] = n + k;
    while (qh < qt && !d->stop) {
        size_t slot = queue[qh++];
        for (size_t ch = d->first[slot]; ch != NONE; ch = d->next[ch]) {
            const lmr__task *t = &m->tasks[ch];
            lmr__out_scratch(&l, &d->scratch);
            task_node(&l, d, t);
            /* A root's edge from its loop node is written at the end, once
             * it is known whether the loop node is drawn at all. */
            if (d->via[ch] == NONE && slot < n)
                tree_edge(&l, d, slot, t);
            size_t ne = d->via[ch] == NONE;
            if (d->edges + ne >= EDGE_CAP || !commit(o, d)) {
                d->stop = true;
                break;
            }
            d->edges += ne;
            d->written[ch] = true;
            d->shown++;
            queue[qt++] = ch;
        }
    }
    free(queue);
    return 0;
}

/* Whether member mt of group gi gets an edge from the group node. Members
 * that hang from the group always do (they would float otherwise), other
 * drawn members up to --max-members; *others counts those. */
static bool member_edge(const tk_data *d, size_t gi, const lmr__task *mt,
                        size_t *others)
{
    if (!mt || !d->written[mt - d->m->tasks])
        return false;
    if (d->via[mt - d->m->tasks] == gi)
        return true;
    return (*others)++ < lmr__cap(d->o->max_members, DEF_MEMBERS);
}

/* Group gi's hexagon and its dotted edges owner -> group -> members, into
 * the scratch line l. Returns how many edges it holds. */
static size_t group_node(lmr__out *l, const tk_data *d, size_t gi)
{
    const lmr__model *m = d->m;
    const lmr__group *g = &m->groups[gi];
    const lmr__task *ow = lmr__model_task(m, g->loop, g->owner);
    lmr__tally tl;
    lmr__group_tally(m, g, d->o->to, &tl);
    char txt[200];
    lmr__puts(l, "    ");
    lmr__id(l, "g", gi + 1);
    lmr__puts(l, "{{\"");
    group_title(d, g, txt, sizeof txt);
    lmr__esc_label(l, txt, 48);
    if (!label_is_generated(g)) {
        lmr__puts(l, "<br/>");
        lmr__esc_label(l, g->label, NAME_CP);
    }
    /* The members' own outcomes, never the group's. */
    static const char *const what[] = {"failed", "timed out", "cancelled",
                                       "done", "unfinished"};
    size_t cnt[5] = {tl.failed, tl.timed_out, tl.cancelled, tl.done,
                     tl.unfinished};
    lmr__puts(l, "<br/>");
    if (counts_text(txt, sizeof txt, cnt, what, 5))
        lmr__esc_label(l, txt, 60);
    else
        lmr__esc_label(l, "no members", 0);
    group_result(d, g, &tl, txt, sizeof txt);
    if (*txt) {
        lmr__puts(l, "<br/>");
        lmr__esc_label(l, txt, 48);
    }
    size_t drawn = 0, others = 0;
    for (size_t k = 0; k < g->nmembers; k++)
        drawn += member_edge(d, gi, lmr__model_task(m, g->loop, g->members[k]),
                             &others);
    if (drawn < g->nmembers) {
        snprintf(txt, sizeof txt, "%zu of %zu members drawn", drawn,
                 g->nmembers);
        lmr__puts(l, "<br/>");
        lmr__esc_label(l, txt, 0);
    }
    lmr__puts(l, "\"}}\n    ");
    lmr__id(l, "t", (uint64_t)ow->ord + 1);
    lmr__puts(l, " -.-> ");
    lmr__id(l, "g", gi + 1);
    lmr__puts(l, "\n");
    others = 0;
    for (size_t k = 0; k < g->nmembers; k++) {
        const lmr__task *mt = lmr__model_task(m, g->loop, g->members[k]);
        if (!member_edge(d, gi, mt, &others))
            continue;
        lmr__puts(l, "    ");
        lmr__id(l, "g", gi + 1);
        lmr__puts(l, " -.-> ");
        lmr__id(l, "t", (uint64_t)mt->ord + 1);
        lmr__puts(l, "\n");
    }
    return 1 + drawn;
}

/* Group gi was not drawn after all: a member hanging only from it would
 * float, so it gets its parent edge back. */
static void unhang_members(lmr__out *o, tk_data *d, size_t gi)
{
    const lmr__model *m = d->m;
    const lmr__group *g = &m->groups[gi];
    lmr__out l;
    for (size_t k = 0; k < g->nmembers; k++) {
        const lmr__task *mt = lmr__model_task(m, g->loop, g->members[k]);
        if (!mt || d->via[mt - m->tasks] != gi || !d->written[mt - m->tasks])
            continue;
        lmr__out_scratch(&l, &d->scratch);
        tree_edge(&l, d, slot_of(d, (size_t)(mt - m->tasks)), mt);
        if (d->edges + 1 < EDGE_CAP && commit(o, d))
            d->edges++;
    }
    d->groups_shown--;
    d->gdrawn[gi] = false;
}

/* The chosen groups whose owner made it into the output. */
static void write_groups(lmr__out *o, tk_data *d)
{
    const lmr__model *m = d->m;
    lmr__out l;
    for (size_t gi = 0; gi < m->ngroups && !d->stop; gi++) {
        if (!d->gdrawn[gi])
            continue;
        const lmr__group *g = &m->groups[gi];
        const lmr__task *ow = lmr__model_task(m, g->loop, g->owner);
        if (!d->written[ow - m->tasks]) {
            d->gdrawn[gi] = false;
            d->groups_shown--;
            continue;
        }
        lmr__out_scratch(&l, &d->scratch);
        size_t need = group_node(&l, d, gi);
        if (d->edges + need >= EDGE_CAP || !commit(o, d))
            unhang_members(o, d, gi);
        else
            d->edges += need;
    }
}

/*
 * Fold nodes: under each drawn task (or loop), one node for the tasks below
 * it that are not drawn, with their outcomes. One pass: each hidden task is
 * counted at its nearest drawn ancestor. Sets d->loop_fold when a loop got
 * one. 0 or LMR_ENOMEM.
 */
static int write_folds(lmr__out *o, tk_data *d)
{
    const lmr__model *m = d->m;
    size_t n = d->n, slots = d->slots;
    size_t *fcnt = calloc(slots * 5, sizeof *fcnt);
    /* fvia[s]: the drawn group all of s's hidden children hang from, so
     * their fold node hangs there too; NONE when they are mixed. */
    size_t *memo = fcnt ? malloc((n ? n : 1) * sizeof *memo) : NULL;
    size_t *fvia = memo ? malloc(slots * sizeof *fvia) : NULL;
    if (!fvia) {
        free(memo);
        free(fcnt);
        return LMR_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        memo[i] = NONE;
    for (size_t i = 0; i < slots; i++)
        fvia[i] = NONE - 1; /* not set yet */
    for (size_t i = 0; i < n; i++) {
        if (d->chosen[i] || !lmr__task_in_window(d->o, &m->tasks[i]))
            continue;
        size_t s = fold_slot(d, i, memo);
        fcnt[s * 5 + (size_t)outcome_index(d->o, &m->tasks[i])]++;
        size_t v = d->parent[i] == s && d->via[i] != NONE &&
                           d->gdrawn[d->via[i]]
                       ? d->via[i] : NONE;
        fvia[s] = fvia[s] == NONE - 1 || fvia[s] == v ? v : NONE;
    }
    free(memo);
    for (size_t s = 0; s < slots && !d->stop; s++) {
        size_t total = 0;
        for (int k = 0; k < 5; k++)
            total += fcnt[s * 5 + (size_t)k];
        if (total && (s >= n || shown_task(d, s))) {
            if (!fold_node(o, d, s, fvia[s] == NONE - 1 ? NONE : fvia[s],
                           &fcnt[s * 5], total))
                break;
            if (s >= n)
                d->loop_fold = true;
        }
    }
    free(fcnt);
    free(fvia);
    return 0;
}

/* Loop k's node with, on the first loop, the caption: the window, what was
 * left out, an empty selection. Into the scratch line l. */
static void loop_node(lmr__out *l, const tk_data *d, uint32_t k)
{
    const lmr__model *m = d->m;
    const lmr_options *opt = d->o;
    const lmr__loop *lp = m->nloops ? &m->loops[k] : NULL;
    uint32_t id = lp ? lp->id : 1;
    char txt[200], a[32], b[32];
    lmr__puts(l, "    ");
    lmr__id(l, "lp", id);
    lmr__puts(l, "([\"");
    lmr__esc_label(l, lp && lp->name && strcmp(lp->name, "loop") != 0
                          ? lp->name : "Event loop", NAME_CP);
    if (k == 0 && (opt->from > 0 || opt->to >= 0)) {
        lmr__fmt_dur(a, sizeof a, opt->from);
        lmr__fmt_dur(b, sizeof b, opt->to >= 0 ? opt->to : m->t_last);
        snprintf(txt, sizeof txt, "tasks alive from %s to %s", a, b);
        lmr__puts(l, "<br/>");
        lmr__esc_label(l, txt, 0);
    }
    bool tasks_left = d->shown < d->eligible;
    if (k == 0 && (tasks_left || d->groups_shown < d->groups_eligible)) {
        int w = snprintf(txt, sizeof txt, "\xE2\x80\xA6 not shown: %zu of "
                         "%zu tasks", d->eligible - d->shown, d->eligible);
        if (d->groups_shown < d->groups_eligible && w > 0)
            snprintf(txt + w, sizeof txt - (size_t)w, ", %zu of %zu groups",
                     d->groups_eligible - d->groups_shown, d->groups_eligible);
        lmr__puts(l, "<br/>");
        lmr__esc_label(l, txt, 0);
        if (tasks_left) {
            lmr__puts(l, "<br/>");
            lmr__esc_label(l, "drawn first: failed, cancelled, slowest", 0);
        }
    }
    if (k == 0 && d->eligible == 0) {
        lmr__puts(l, "<br/>");
        lmr__esc_label(l, "no task in the selection", 0);
    }
    lmr__puts(l, "\"])\n");
}

/* The loop nodes: the roots' parent and the caption, drawn only when they
 * say something (several loops or roots, a window, omissions): otherwise
 * the one root task is the top of the tree. */
static void write_loops(lmr__out *o, tk_data *d)
{
    const lmr__model *m = d->m;
    const lmr_options *opt = d->o;
    size_t n = d->n;
    size_t roots = 0;
    for (uint32_t k = 0; k < d->nloops; k++)
        for (size_t ch = d->first[n + k]; ch != NONE; ch = d->next[ch])
            roots += d->written[ch];
    bool captioned = opt->from > 0 || opt->to >= 0 || d->shown < d->eligible ||
                     d->groups_shown < d->groups_eligible || d->eligible == 0;
    if (!(d->nloops > 1 || roots > 1 || captioned || d->loop_fold))
        return;
    lmr__out l;
    for (uint32_t k = 0; k < d->nloops; k++)
        for (size_t ch = d->first[n + k]; ch != NONE; ch = d->next[ch]) {
            if (!d->written[ch])
                continue;
            lmr__out_scratch(&l, &d->scratch);
            tree_edge(&l, d, n + k, &m->tasks[ch]);
            commit(o, d);
        }
    for (uint32_t k = 0; k < d->nloops; k++) {
        lmr__out_scratch(&l, &d->scratch);
        loop_node(&l, d, k);
        commit(o, d);
    }
}

/* ---- the view ----------------------------------------------------------- */

static void tk_free(tk_data *d)
{
    free(d->parent);
    free(d->via);
    free(d->next);
    free(d->first);
    free(d->kids);
    free(d->chosen);
    free(d->written);
    free(d->gdrawn);
    lmr_buf_free(&d->scratch);
}

/* The per-task and per-slot arrays. 0 or LMR_ENOMEM (tk_free frees). */
static int tk_alloc(tk_data *d)
{
    size_t n1 = d->n ? d->n : 1;
    d->parent = malloc(n1 * sizeof *d->parent);
    d->via = malloc(n1 * sizeof *d->via);
    d->next = malloc(n1 * sizeof *d->next);
    d->first = malloc(d->slots * sizeof *d->first);
    d->kids = calloc(d->slots, sizeof *d->kids);
    d->chosen = calloc(n1, sizeof *d->chosen);
    d->written = calloc(n1, sizeof *d->written);
    d->gdrawn = calloc(d->m->ngroups ? d->m->ngroups : 1, sizeof *d->gdrawn);
    return d->parent && d->via && d->next && d->first && d->kids &&
                   d->chosen && d->written && d->gdrawn
               ? 0 : LMR_ENOMEM;
}

/* Everything is drawn at the end: what to draw depends on the whole
 * trace. Choose the tasks and groups, then write the tasks, the groups,
 * the folds and the loop nodes, each as much as fits. */
static int tk_end(lmr__render_ctx *c)
{
    const lmr__model *m = c->model;
    lmr__out *o = c->out;
    tk_data dd = {.m = m, .o = c->opts, .n = m->ntasks}, *d = &dd;
    d->nloops = m->nloops ? m->nloops : 1;
    d->slots = d->n + d->nloops;
    int rc = tk_alloc(d);
    if (rc == 0) {
        drawn_parents(d);
        rc = choose_tasks(d);
    }
    if (rc == 0) {
        choose_groups(d);
        link_children(d);
        o->reserve = NOTE_RESERVE;
        lmr__begin_diagram(o, c->opts->title, NULL, "flowchart LR");
        lmr__puts(o, "    classDef ok fill:#51cf66,stroke:#27ae60,color:#fff\n"
                     "    classDef fail fill:#ff6b6b,stroke:#c92a2a,color:#fff\n"
                     "    classDef canc fill:#adb5bd,stroke:#495057,color:#000\n"
                     "    classDef tout fill:#ffd43b,stroke:#f59f00,color:#000\n"
                     "    classDef live fill:#4a9eff,stroke:#2670c2,color:#fff\n"
                     "    classDef more fill:#f8f9fa,stroke:#adb5bd,color:#000\n");
        rc = write_tasks(o, d);
    }
    if (rc == 0) {
        write_groups(o, d);
        rc = write_folds(o, d);
    }
    if (rc == 0) {
        o->reserve = 0; /* the caption may use what was kept back for it */
        write_loops(o, d);
        rc = o->err;
    }
    tk_free(d);
    return rc;
}

const lmr__renderer lmr__view_tasks = {"tasks", tk_begin, NULL, tk_end};
