/*
 * timer.c: the loop's timers: an intrusive binary min-heap, plus a sorted
 * FIFO for timers armed in order. They live apart from loop.c (as libuv
 * keeps its heap in its own file): the loop needs only the next timer
 * (lm__timer_first, inline in lm_runtime.h) and arm/disarm, and the heap's
 * pointer surgery is easier to review on its own.
 *
 * Timers fire in (due, seq) order: seq is the loop's arming counter, so
 * timers due at the same time fire in the order they were armed and every
 * run orders them the same way. Nothing here allocates: the nodes live in
 * the task or the handle that owns the timer.
 *
 * The heap is made of the nodes themselves: a node's position is given by
 * its pointers, and the path to slot k (1-based) is spelled by the bits of
 * k below its top bit (0 = left, 1 = right). Insert and remove are
 * O(log n) and touch only the nodes on one path.
 */
#include "lm_runtime.h"

/* The link that points at slot k: the root pointer or a child field. */
static lm__heap_node **heap_slot(lm_loop *loop, size_t k,
                                 lm__heap_node **parent)
{
    int depth = 0;
    size_t path = 0;
    for (; k >= 2; k >>= 1, depth++)
        path = (path << 1) | (k & 1);
    lm__heap_node **link = &loop->timer_min;
    *parent = NULL;
    while (depth-- > 0) {
        *parent = *link;
        link = (path & 1) ? &(*link)->right : &(*link)->left;
        path >>= 1;
    }
    return link;
}

/* Exchanges child c with its parent p in the tree (not their contents). */
static void heap_swap(lm_loop *loop, lm__heap_node *p, lm__heap_node *c)
{
    lm__heap_node *gp = p->parent;
    lm__heap_node *cl = c->left, *cr = c->right;
    lm__heap_node *sib;
    if (p->left == c) {
        sib = p->right;
        c->left = p;
        c->right = sib;
    } else {
        sib = p->left;
        c->right = p;
        c->left = sib;
    }
    if (sib != NULL)
        sib->parent = c;
    c->parent = gp;
    p->parent = c;
    p->left = cl;
    p->right = cr;
    if (cl != NULL)
        cl->parent = p;
    if (cr != NULL)
        cr->parent = p;
    if (gp == NULL)
        loop->timer_min = c;
    else if (gp->left == p)
        gp->left = c;
    else
        gp->right = c;
}

void lm__timer_arm(lm_loop *loop, lm__timer *tm, lm_time due, uint8_t kind)
{
    if (tm->armed)
        lm__timer_disarm(loop, tm);
    tm->due = due;
    tm->seq = ++loop->timer_seq;
    tm->kind = kind;
    tm->armed = true;
    lm__heap_node *n = &tm->node;
    if (loop->fifo_tail == NULL || due >= lm__timer_of(loop->fifo_tail)->due) {
        /* In order (its seq is the largest yet): append to the FIFO. */
        tm->in_fifo = true;
        n->parent = NULL;
        n->right = NULL;
        n->left = loop->fifo_tail;
        if (loop->fifo_tail != NULL)
            loop->fifo_tail->right = n;
        else
            loop->fifo_head = n;
        loop->fifo_tail = n;
        return;
    }
    tm->in_fifo = false;
    n->left = n->right = NULL;
    lm__heap_node *parent;
    lm__heap_node **link = heap_slot(loop, loop->ntimers + 1, &parent);
    *link = n;
    n->parent = parent;
    loop->ntimers++;
    while (n->parent != NULL && lm__timer_less(n, n->parent))
        heap_swap(loop, n->parent, n);
}

void lm__timer_disarm(lm_loop *loop, lm__timer *tm)
{
    if (!tm->armed)
        return;
    tm->armed = false;
    lm__heap_node *n = &tm->node;
    if (tm->in_fifo) {
        tm->in_fifo = false;
        if (n->left != NULL)
            n->left->right = n->right;
        else
            loop->fifo_head = n->right;
        if (n->right != NULL)
            n->right->left = n->left;
        else
            loop->fifo_tail = n->left;
        n->left = n->right = NULL;
        return;
    }
    lm__heap_node *parent;
    lm__heap_node **link = heap_slot(loop, loop->ntimers, &parent);
    lm__heap_node *last = *link;
    *link = NULL; /* detach the last slot */
    loop->ntimers--;
    if (last == n)
        return;
    /* The last node takes n's place, then sinks or rises. */
    last->left = n->left;
    last->right = n->right;
    last->parent = n->parent;
    if (last->left != NULL)
        last->left->parent = last;
    if (last->right != NULL)
        last->right->parent = last;
    if (n->parent == NULL)
        loop->timer_min = last;
    else if (n->parent->left == n)
        n->parent->left = last;
    else
        n->parent->right = last;
    for (;;) {
        lm__heap_node *m = last;
        if (last->left != NULL && lm__timer_less(last->left, m))
            m = last->left;
        if (last->right != NULL && lm__timer_less(last->right, m))
            m = last->right;
        if (m == last)
            break;
        heap_swap(loop, last, m);
    }
    while (last->parent != NULL && lm__timer_less(last, last->parent))
        heap_swap(loop, last->parent, last);
}
