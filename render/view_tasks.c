/*
 * view_tasks.c: `--view tasks`, a flowchart of the task tree (who spawned
 * whom) and the await structure (gather / wait / task group / wait_for as
 * hexagon nodes pointing at their members), each task styled by outcome:
 * done, failed, cancelled, timed out, unfinished. A legend explains the
 * styles.
 *
 * It needs only the pass-1 model, so it works in end(). The tree is drawn
 * breadth first from each loop's root node; a parent shows at most
 * CHILD_CAP children and folds the rest into one "... and N more tasks"
 * node; node, edge (< Mermaid's 500) and character budgets stop the walk,
 * and a final node says what was not shown. Memory: three ints per task.
 */
#include "lmr_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHILD_CAP 8
#define NODE_CAP 150
#define EDGE_CAP 440     /* leaves room below Mermaid's 500 */
#define GROUP_CAP 30
#define MEMBER_CAP 10
#define NAME_CP 32
#define NOTE_RESERVE 400  /* the closing "not shown" node */

typedef struct tk_data {
    size_t *first, *next;  /* children lists by task index; SIZE_MAX = none */
    bool *shown;
    size_t *queue;
    size_t edges, nodes, folded, folds;
    lmr_buf scratch;
} tk_data;

#define NONE SIZE_MAX

static const char *outcome_class(const lmr__task *t)
{
    switch (t->state) {
    case LMR__ST_DONE: return "ok";
    case LMR__ST_FAILED: return "fail";
    case LMR__ST_CANCELLED: return t->timed_out ? "tout" : "canc";
    default: return "live";
    }
}

static int tk_begin(lmr__render_ctx *c)
{
    (void)c;
    return 0;
}

/* Commits the scratch line when it fits; false otherwise. */
static bool commit(lmr__render_ctx *c, tk_data *d)
{
    if (!lmr__fits(c->out, d->scratch.len))
        return false;
    lmr__outn(c->out, d->scratch.data, d->scratch.len);
    return true;
}

static void task_node(lmr__render_ctx *c, lmr__out *l, const lmr__task *t)
{
    lmr__puts(l, "    ");
    lmr__id(l, "t", (uint64_t)t->ord + 1);
    lmr__puts(l, "[\"");
    lmr__esc_label(l, t->name ? t->name : "", NAME_CP);
    lmr__puts(l, "<br/>");
    char txt[96];
    if (t->state == LMR__ST_CANCELLED && t->timed_out)
        snprintf(txt, sizeof txt, "timed out");
    else if (t->state == LMR__ST_FAILED && t->error)
        snprintf(txt, sizeof txt, "failed %.40s", t->error);
    else if (t->state >= LMR__ST_DONE)
        snprintf(txt, sizeof txt, "%s", lmr__state_label(c->opts, t->state));
    else
        snprintf(txt, sizeof txt, "still %s", lmr__state_label(c->opts, t->state));
    lmr__esc_label(l, txt, 40);
    lmr__printf(l, "\"]:::%s\n", outcome_class(t));
}

static void parent_id(lmr__out *l, const lmr__model *m, size_t parent)
{
    if (parent == NONE) /* never: roots hang under their loop node */
        lmr__puts(l, "lp1");
    else
        lmr__id(l, "t", (uint64_t)m->tasks[parent].ord + 1);
}

static int tk_end(lmr__render_ctx *c)
{
    const lmr__model *m = c->model;
    lmr__out *o = c->out;
    size_t n = m->ntasks;
    tk_data dd = {0}, *d = &dd;
    int rc = 0;
    uint32_t nloops = m->nloops ? m->nloops : 1;
    size_t slots = n + nloops; /* tasks, then one root slot per loop */
    d->first = malloc(slots * sizeof *d->first);
    d->next = malloc((n ? n : 1) * sizeof *d->next);
    d->shown = calloc(n ? n : 1, sizeof *d->shown);
    d->queue = malloc(slots * sizeof *d->queue);
    if (!d->first || !d->next || !d->shown || !d->queue) {
        rc = LMR_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < slots; i++)
        d->first[i] = NONE;
    /* Children lists in creation order: link from the back. */
    size_t eligible = 0;
    for (size_t i = n; i-- > 0;) {
        const lmr__task *t = &m->tasks[i];
        d->next[i] = NONE;
        if (!lmr__task_in_window(c->opts, t))
            continue;
        eligible++;
        size_t slot = NONE;
        if (t->parent) {
            const lmr__task *p = lmr__model_task(m, t->loop, t->parent);
            if (p && lmr__task_in_window(c->opts, p))
                slot = (size_t)(p - m->tasks);
        }
        if (slot == NONE) {
            /* A root: under its loop's node (loops are few, find by scan). */
            uint32_t li = 0;
            for (uint32_t k = 0; k < m->nloops; k++)
                if (m->loops[k].id == t->loop)
                    li = k;
            slot = n + li;
        }
        d->next[i] = d->first[slot];
        d->first[slot] = i;
    }

    o->reserve = NOTE_RESERVE;
    lmr__begin_diagram(o, c->opts->title, NULL, "flowchart TD");
    lmr__puts(o, "    classDef ok fill:#51cf66,stroke:#27ae60,color:#fff\n"
                 "    classDef fail fill:#ff6b6b,stroke:#c92a2a,color:#fff\n"
                 "    classDef canc fill:#adb5bd,stroke:#495057,color:#000\n"
                 "    classDef tout fill:#ffd43b,stroke:#f59f00,color:#000\n"
                 "    classDef live fill:#4a9eff,stroke:#2670c2,color:#fff\n");
    lmr__out l;
    /* Loop nodes, then the tree breadth first from each of them. */
    size_t qh = 0, qt = 0;
    for (uint32_t k = 0; k < nloops; k++) {
        const lmr__loop *lp = m->nloops ? &m->loops[k] : NULL;
        uint32_t id = lp ? lp->id : 1;
        lmr__out_scratch(&l, &d->scratch);
        lmr__puts(&l, "    ");
        lmr__id(&l, "lp", id);
        lmr__puts(&l, "([\"");
        lmr__esc_label(&l, lp && lp->name && strcmp(lp->name, "loop") != 0
                               ? lp->name : "Event loop", NAME_CP);
        lmr__puts(&l, "\"])\n");
        if (!commit(c, d))
            break;
        d->queue[qt++] = n + k;
    }
    size_t shown = 0;
    bool stop = false;
    while (qh < qt && !stop) {
        size_t slot = d->queue[qh++];
        size_t kids = 0;
        for (size_t ch = d->first[slot]; ch != NONE; ch = d->next[ch]) {
            if (kids == CHILD_CAP || d->nodes >= NODE_CAP ||
                d->edges + 1 >= EDGE_CAP) {
                /* Fold this and every later sibling into one node. */
                uint64_t cnt[LMR__ST__COUNT + 1] = {0}, more = 0;
                for (size_t r = ch; r != NONE; r = d->next[r]) {
                    more++;
                    const lmr__task *t = &m->tasks[r];
                    cnt[t->state == LMR__ST_CANCELLED && t->timed_out
                            ? LMR__ST__COUNT : t->state]++;
                }
                if (d->edges + 1 >= EDGE_CAP) {
                    stop = true;
                    break;
                }
                char txt[160];
                int k = snprintf(txt, sizeof txt,
                                 "\xE2\x80\xA6 and %" PRIu64 " more tasks", more);
                lmr__out_scratch(&l, &d->scratch);
                lmr__puts(&l, "    ");
                lmr__id(&l, "f", ++d->folds);
                lmr__puts(&l, "[\"");
                lmr__esc_label(&l, txt, 0);
                static const char *const what[] = {
                    "created", "pending", "running", "awaiting", "done",
                    "failed", "cancelled", "timed out"};
                for (int s = 0; s <= LMR__ST__COUNT && k > 0; s++) {
                    if (!cnt[s])
                        continue;
                    snprintf(txt, sizeof txt, "%" PRIu64 " %s", cnt[s], what[s]);
                    lmr__puts(&l, "<br/>");
                    lmr__esc_label(&l, txt, 0);
                }
                lmr__puts(&l, "\"]\n    ");
                if (slot >= n)
                    lmr__id(&l, "lp", m->nloops ? m->loops[slot - n].id : 1);
                else
                    parent_id(&l, m, slot);
                lmr__puts(&l, " --> ");
                lmr__id(&l, "f", d->folds);
                lmr__puts(&l, "\n");
                if (!commit(c, d)) {
                    stop = true;
                    break;
                }
                d->edges++;
                break;
            }
            const lmr__task *t = &m->tasks[ch];
            lmr__out_scratch(&l, &d->scratch);
            task_node(c, &l, t);
            lmr__puts(&l, "    ");
            if (slot >= n)
                lmr__id(&l, "lp", m->nloops ? m->loops[slot - n].id : 1);
            else
                parent_id(&l, m, slot);
            lmr__puts(&l, " --> ");
            lmr__id(&l, "t", (uint64_t)t->ord + 1);
            lmr__puts(&l, "\n");
            if (!commit(c, d)) {
                stop = true;
                break;
            }
            d->shown[ch] = true;
            shown++;
            d->nodes++;
            d->edges++;
            kids++;
            d->queue[qt++] = ch;
        }
    }
    /* Groups whose owner is shown, with edges to their shown members. */
    size_t groups_shown = 0, groups_eligible = 0;
    for (size_t gi = 0; gi < m->ngroups; gi++) {
        const lmr__group *g = &m->groups[gi];
        const lmr__task *ow = lmr__model_task(m, g->loop, g->owner);
        if (!ow || !lmr__task_in_window(c->opts, ow))
            continue;
        groups_eligible++;
        if (!d->shown[ow - m->tasks] || groups_shown >= GROUP_CAP || stop)
            continue;
        size_t members_shown = 0, need_edges = 1;
        for (size_t k = 0; k < g->nmembers && members_shown < MEMBER_CAP; k++) {
            const lmr__task *mt = lmr__model_task(m, g->loop, g->members[k]);
            if (mt && d->shown[mt - m->tasks]) {
                members_shown++;
                need_edges++;
            }
        }
        if (d->edges + need_edges >= EDGE_CAP)
            continue;
        char txt[200], dur[32];
        lmr__out_scratch(&l, &d->scratch);
        lmr__puts(&l, "    ");
        lmr__id(&l, "g", gi + 1);
        lmr__puts(&l, "{{\"");
        int k = snprintf(txt, sizeof txt, "%.20s", g->kind ? g->kind : "group");
        if (g->mode && k > 0)
            k += snprintf(txt + k, sizeof txt - (size_t)k, " %.30s", g->mode);
        if (g->timeout >= 0 && k > 0) {
            lmr__fmt_dur(dur, sizeof dur, g->timeout);
            k += snprintf(txt + k, sizeof txt - (size_t)k, " timeout %s", dur);
        }
        lmr__esc_label(&l, txt, 48);
        if (g->label) {
            lmr__puts(&l, "<br/>");
            lmr__esc_label(&l, g->label, NAME_CP);
        }
        snprintf(txt, sizeof txt, "%zu members %s", g->nmembers,
                 g->outcome ? g->outcome : "unfinished");
        lmr__puts(&l, "<br/>");
        lmr__esc_label(&l, txt, 0);
        if (members_shown < g->nmembers) {
            snprintf(txt, sizeof txt, "%zu members not drawn",
                     g->nmembers - members_shown);
            lmr__puts(&l, "<br/>");
            lmr__esc_label(&l, txt, 0);
        }
        lmr__puts(&l, "\"}}\n    ");
        lmr__id(&l, "t", (uint64_t)ow->ord + 1);
        lmr__puts(&l, " -.->|\"awaits\"| ");
        lmr__id(&l, "g", gi + 1);
        lmr__puts(&l, "\n");
        size_t drawn = 0;
        for (size_t mk = 0; mk < g->nmembers && drawn < members_shown; mk++) {
            const lmr__task *mt = lmr__model_task(m, g->loop, g->members[mk]);
            if (!mt || !d->shown[mt - m->tasks])
                continue;
            drawn++;
            lmr__puts(&l, "    ");
            lmr__id(&l, "g", gi + 1);
            lmr__puts(&l, " -.-> ");
            lmr__id(&l, "t", (uint64_t)mt->ord + 1);
            lmr__puts(&l, "\n");
        }
        if (!commit(c, d))
            continue;
        d->edges += need_edges;
        groups_shown++;
    }
    /* What was left out, then the legend when it fits. */
    o->reserve = 0;
    if (shown < eligible || groups_shown < groups_eligible) {
        char txt[200];
        int k = snprintf(txt, sizeof txt, "\xE2\x80\xA6 not shown: %zu of %zu tasks",
                         eligible - shown, eligible);
        if (groups_shown < groups_eligible && k > 0)
            snprintf(txt + k, sizeof txt - (size_t)k, " and %zu of %zu groups",
                     groups_eligible - groups_shown, groups_eligible);
        lmr__puts(o, "    more[\"");
        lmr__esc_label(o, txt, 0);
        lmr__puts(o, "\"]\n");
    }
    size_t mark = lmr__mark(o);
    lmr__puts(o, "    subgraph legend [\"Legend\"]\n");
    static const char *const lg[][2] = {{"ok", "done"}, {"fail", "failed"},
        {"canc", "cancelled"}, {"tout", "timed out"}, {"live", "unfinished"}};
    for (size_t i = 0; i < sizeof lg / sizeof lg[0]; i++) {
        lmr__printf(o, "        lg%zu[\"", i + 1);
        lmr__esc_label(o, lg[i][1], 0);
        lmr__printf(o, "\"]:::%s\n", lg[i][0]);
    }
    lmr__puts(o, "    end\n");
    if (lmr__used(o) > lmr__budget(o))
        lmr__rollback(o, mark);
    rc = o->err;
out:
    free(d->first);
    free(d->next);
    free(d->shown);
    free(d->queue);
    lmr_buf_free(&d->scratch);
    return rc;
}

const lmr__renderer lmr__view_tasks = {"tasks", tk_begin, NULL, tk_end};
