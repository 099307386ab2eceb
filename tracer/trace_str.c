/*
 * trace_str.c: the recorder's string store. Labels are interned (one id per
 * distinct text, so a label repeated a million times is stored once); one-shot
 * strings (names, notes, messages, member lists) go to an arena and are
 * referenced by offset. Both are read by the crash handler, so they grow by
 * copy-publish-free (trace_buf.c, rule 2).
 */
#include "lm_trace.h"

#include <stdlib.h>
#include <string.h>

/* n cut to the limit, backing up to a UTF-8 character boundary. */
static size_t cut_len(const char *s, size_t n)
{
    if (n <= LM__TRACE_STR_MAX)
        return n;
    n = LM__TRACE_STR_MAX;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

/* Word-at-a-time hash: labels are hashed on every transition that carries
 * one, so this is on the hot path (a byte-wise FNV was a third of its cost). */
static uint32_t intern_slow(lm__trace *tr, const char *s);

static uint32_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n, w;
    while (n >= 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 32;
        s += 8;
        n -= 8;
    }
    w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
    h ^= h >> 29;
    return (uint32_t)h;
}

lm__strs lm__trace_strs(const lm__trace *tr)
{
    return (lm__strs){.arena = tr->arena, .alen = tr->alen,
                      .istore = tr->istore, .ioff = tr->ioff, .nid = tr->nid,
                      .loopno = tr->loopno};
}

const char *lm__strs_i(const lm__strs *v, uint32_t ref, size_t *len)
{
    if (ref == 0 || ref > v->nid)
        return NULL;
    const char *s = v->istore + v->ioff[ref - 1];
    if (len)
        *len = strlen(s);
    return s;
}

const char *lm__strs_a(const lm__strs *v, uint32_t ref, size_t *len)
{
    if (ref == 0 || ref - 1 >= v->alen)
        return NULL;
    uint32_t n;
    memcpy(&n, v->arena + ref - 1, sizeof n);
    if (len)
        *len = n;
    return v->arena + ref - 1 + 8;
}

const char *lm__trace_istr(const lm__trace *tr, uint32_t ref, size_t *len)
{
    lm__strs v = lm__trace_strs(tr);
    return lm__strs_i(&v, ref, len);
}

const char *lm__trace_astr(const lm__trace *tr, uint32_t ref, size_t *len)
{
    lm__strs v = lm__trace_strs(tr);
    return lm__strs_a(&v, ref, len);
}

/* Where a replaced intern buffer goes. Once a writer thread has taken a
 * snapshot of the store (lm__strs), it may still be reading the old buffer:
 * the store only ever appends, so the old buffer stays a valid prefix, and it
 * is kept until lm__trace_free (the buffers double, so that is less memory
 * than the store itself). Before any hand-off nobody else reads it. */
static void retire(lm__trace *tr, void *old)
{
    if (old == NULL)
        return;
    if (tr == NULL || !tr->wstarted || tr->nretired == LM__RETIRED_MAX) {
        /* The last case cannot happen: each buffer is at least twice the
         * previous one and the store stays under 4 GiB. */
        free(old);
        return;
    }
    tr->retired[tr->nretired++] = old;
}

/* A bigger copy of a buffer the crash handler reads, published via *slot;
 * the old one is freed, or retired when keep (an intern buffer) is given. */
static bool grow_pub(char **slot, size_t *cap, size_t used, size_t need,
                     lm__trace *keep)
{
    size_t ncap = lm__grow_cap(*cap, 4096, used + need);
    if (ncap == 0)
        return false;
    char *nb = malloc(ncap);
    if (!nb)
        return false;
    if (used)
        memcpy(nb, *slot, used);
    char *old = *slot;
    *slot = nb;
    *cap = ncap;
    atomic_signal_fence(memory_order_seq_cst);
    retire(keep, old);
    return true;
}

uint32_t lm__trace_intern(lm__trace *tr, const char *s)
{
    /* The same label pointer as last time (a group passes its label on
     * every park): one strcmp confirms the text is unchanged. */
    if (s == tr->lc_ptr && tr->lc_id != 0 &&
        strcmp(tr->istore + tr->ioff[tr->lc_id - 1], s) == 0)
        return tr->lc_id;
    uint32_t id = intern_slow(tr, s);
    tr->lc_ptr = s;
    tr->lc_id = id;
    return id;
}

static uint32_t intern_slow(lm__trace *tr, const char *s)
{
    size_t n = cut_len(s, strlen(s));
    uint32_t h = fnv1a(s, n), mask = tr->itabcap - 1;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        uint32_t id = tr->itab[i];
        if (id == 0)
            break;
        const char *t = tr->istore + tr->ioff[id - 1];
        if (strncmp(t, s, n) == 0 && t[n] == '\0')
            return id;
    }
    /* New string: the store, the id table, and maybe a bigger hash table. */
    if (tr->ilen + n + 1 > UINT32_MAX || tr->nid >= UINT32_MAX / 4)
        return 0;
    if (tr->ilen + n + 1 > tr->icap &&
        !grow_pub(&tr->istore, &tr->icap, tr->ilen, n + 1, tr))
        return 0;
    if (tr->nid == tr->idcap) {
        size_t cap = tr->idcap * sizeof(uint32_t);
        if (!grow_pub((char **)&tr->ioff, &cap, tr->nid * sizeof(uint32_t),
                      sizeof(uint32_t), tr))
            return 0;
        tr->idcap = (uint32_t)(cap / sizeof(uint32_t));
    }
    if ((tr->nid + 1) * 2 > tr->itabcap) {
        uint32_t ncap = tr->itabcap * 2;
        uint32_t *nt = calloc(ncap, sizeof *nt);
        if (!nt)
            return 0;
        for (uint32_t id = 1; id <= tr->nid; id++) {
            const char *t = tr->istore + tr->ioff[id - 1];
            uint32_t j = fnv1a(t, strlen(t)) & (ncap - 1);
            while (nt[j])
                j = (j + 1) & (ncap - 1);
            nt[j] = id;
        }
        free(tr->itab);
        tr->itab = nt;
        tr->itabcap = ncap;
        mask = ncap - 1;
    }
    memcpy(tr->istore + tr->ilen, s, n);
    tr->istore[tr->ilen + n] = '\0';
    tr->ioff[tr->nid] = (uint32_t)tr->ilen;
    tr->ilen += n + 1;
    uint32_t i = h & mask;
    while (tr->itab[i])
        i = (i + 1) & mask;
    atomic_signal_fence(memory_order_seq_cst);
    tr->itab[i] = ++tr->nid;
    return tr->nid;
}

/* Stream mode drains before the arena exceeds this; ring mode compacts. */
#define LM__ARENA_SOFT (8u << 20)

/* Ring mode: copies the strings the kept records still use into a fresh
 * arena and remaps them. O(kept records + live bytes). */
static bool arena_compact(lm__trace *tr, size_t need)
{
    size_t live = 0;
    for (size_t k = 0, i = (size_t)(tr->rd % tr->cap);
         k < (size_t)(tr->wr - tr->rd); k++, i = (i + 1 == tr->cap) ? 0 : i + 1) {
        size_t n;
        if (tr->rec[i].s2 && lm__trace_astr(tr, tr->rec[i].s2, &n))
            live += 8 + ((n + 1 + 7) & ~(size_t)7);
    }
    size_t ncap = lm__grow_cap(tr->acap, 4096, live + need + (live + need) / 2);
    if (ncap == 0)
        return false;
    char *nb = malloc(ncap);
    if (!nb)
        return false;
    size_t nl = 0;
    /* Remapping touches records the crash handler may be formatting: build
     * the new arena first, then switch every reference and the pointer in
     * one go between two fences. A crash inside that window can mislabel a
     * string; it cannot make the output invalid YAML (lengths are checked). */
    size_t live_n = (size_t)(tr->wr - tr->rd);
    uint32_t *map = malloc((live_n ? live_n : 1) * sizeof *map);
    if (!map) {
        free(nb);
        return false;
    }
    for (size_t k = 0, i = (size_t)(tr->rd % tr->cap);
         k < (size_t)(tr->wr - tr->rd); k++, i = (i + 1 == tr->cap) ? 0 : i + 1) {
        size_t n;
        const char *s;
        map[k] = 0;
        if (tr->rec[i].s2 && (s = lm__trace_astr(tr, tr->rec[i].s2, &n))) {
            uint32_t n32 = (uint32_t)n, z = 0;
            memcpy(nb + nl, &n32, 4);
            memcpy(nb + nl + 4, &z, 4);
            memcpy(nb + nl + 8, s, n);
            nb[nl + 8 + n] = '\0';
            map[k] = (uint32_t)nl + 1;
            nl += 8 + ((n + 1 + 7) & ~(size_t)7);
        }
    }
    char *old = tr->arena;
    atomic_signal_fence(memory_order_seq_cst);
    for (size_t k = 0, i = (size_t)(tr->rd % tr->cap);
         k < (size_t)(tr->wr - tr->rd); k++, i = (i + 1 == tr->cap) ? 0 : i + 1)
        tr->rec[i].s2 = map[k];
    tr->arena = nb;
    tr->acap = ncap;
    tr->alen = nl;
    atomic_signal_fence(memory_order_seq_cst);
    free(old);
    free(map);
    tr->alive = nl;
    return true;
}

uint32_t lm__trace_blob(lm__trace *tr, const void *p, size_t n)
{
    /* The hook takes its record slot after this (rec_begin in trace.c): if
     * the array is full, taking it would pass the array on, and this arena
     * with it, and the record would point into the next one. So make room
     * first; the slot taken next is then free. */
    if (LM__UNLIKELY(tr->wr - tr->rd == tr->cap))
        lm__trace_full(tr);
    size_t need = 8 + ((n + 1 + 7) & ~(size_t)7);
    if (tr->alen + need > tr->acap) {
        if (!tr->ring && tr->alen > LM__ARENA_SOFT) {
            /* Every buffered record is formatted, then no string is in use.
             * The caller's own record is not counted yet, so it is safe. */
            lm__trace_flush_now(tr);
        } else if (tr->ring && tr->alen > 2 * tr->alive + (1u << 20)) {
            arena_compact(tr, need);
        }
    }
    if (tr->alen + need > UINT32_MAX - 1)
        return 0;
    if (tr->alen + need > tr->acap &&
        !grow_pub(&tr->arena, &tr->acap, tr->alen, need, NULL))
        return 0;
    char *d = tr->arena + tr->alen;
    uint32_t n32 = (uint32_t)n, z = 0;
    memcpy(d, &n32, 4);
    memcpy(d + 4, &z, 4);
    if (n)
        memcpy(d + 8, p, n);
    d[8 + n] = '\0';
    uint32_t ref = (uint32_t)tr->alen + 1;
    tr->alen += need;
    return ref;
}

uint32_t lm__trace_str(lm__trace *tr, const char *s, size_t n)
{
    return lm__trace_blob(tr, s, cut_len(s, n));
}
