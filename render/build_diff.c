/*
 * build_diff.c: the unified diff `loopmaid build --diff` prints: Myers'
 * O(ND) algorithm on lines, 3 lines of context, "\\ No newline at end of
 * file" as diff(1) writes it.
 */
#include "build.h"

#include <stdlib.h>
#include <string.h>

typedef struct diff_line {
    const char *s;
    size_t n;
} diff_line;

static size_t split_lines(const char *s, size_t len, diff_line **out)
{
    size_t cap = 64, n = 0;
    diff_line *v = malloc(cap * sizeof *v);
    if (!v)
        return (size_t)-1;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(s + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - s) + 1 : len;
        if (n == cap) {
            cap *= 2;
            diff_line *nv = realloc(v, cap * sizeof *v);
            if (!nv) {
                free(v);
                return (size_t)-1;
            }
            v = nv;
        }
        v[n].s = s + i;
        v[n].n = e - i;
        n++;
        i = e;
    }
    *out = v;
    return n;
}

static bool line_eq(const diff_line *a, const diff_line *b)
{
    return a->n == b->n && memcmp(a->s, b->s, a->n) == 0;
}

/* An edit script entry: ' ' keep, '-' delete from a, '+' insert from b. */
typedef struct diff_op {
    char op;
    size_t ai, bi;
} diff_op;

/*
 * Computes a shortest edit script with Myers' greedy algorithm, keeping every
 * V vector to backtrack. Memory is O(D^2) for D differences, which is small
 * for the near-identical files a docs build compares; past a cap we give up
 * and show the change as "delete all, insert all", which is still correct.
 */
static diff_op *myers(const diff_line *a, size_t n, const diff_line *b,
                      size_t m, size_t *nops)
{
    size_t max = n + m;
    const size_t dcap = 2000;
    size_t limit = max < dcap ? max : dcap;
    size_t width = 2 * limit + 1;
    long off = (long)limit;
    size_t d_found = (size_t)-1;
    long *v = calloc(width, sizeof *v);
    /* The V vector of round d is saved as its 2d+1 live entries, so the
     * history costs O(D^2) for D differences, not O(D * (n + m)). */
    size_t hcap = 1024, hlen = 0;
    long *hist = malloc(hcap * sizeof *hist);
    diff_op *ops = malloc((n + m + 1) * sizeof *ops);
    if (!v || !hist || !ops)
        goto fail;
    for (size_t d = 0; d <= limit && d_found == (size_t)-1; d++) {
        for (long k = -(long)d; k <= (long)d; k += 2) {
            long x;
            if (k == -(long)d || (k != (long)d && v[off + k - 1] < v[off + k + 1]))
                x = v[off + k + 1];
            else
                x = v[off + k - 1] + 1;
            long y = x - k;
            while ((size_t)x < n && y >= 0 && (size_t)y < m && line_eq(&a[x], &b[y])) {
                x++;
                y++;
            }
            v[off + k] = x;
            if ((size_t)x >= n && (size_t)y >= m) {
                d_found = d;
                break;
            }
        }
        if (hlen + 2 * d + 1 > hcap) {
            while (hlen + 2 * d + 1 > hcap)
                hcap *= 2;
            long *nh = realloc(hist, hcap * sizeof *hist);
            if (!nh)
                goto fail;
            hist = nh;
        }
        memcpy(hist + hlen, v + off - (long)d, (2 * d + 1) * sizeof *v);
        hlen += 2 * d + 1;
    }
    size_t k_ops = 0;
    if (d_found == (size_t)-1) {
        /* Too different to be worth an exact script: replace everything. */
        for (size_t i = 0; i < n; i++)
            ops[k_ops++] = (diff_op){'-', i, 0};
        for (size_t j = 0; j < m; j++)
            ops[k_ops++] = (diff_op){'+', n, j};
    } else {
        /* Backtrack from (n, m), collecting ops in reverse. Round d's slice
         * starts at d*d in hist (the sum of 2i+1 for i < d). */
        long x = (long)n, y = (long)m;
        for (size_t d = d_found; d > 0; d--) {
            const long *pv = hist + (d - 1) * (d - 1);
            long pd = (long)d - 1;
            long k = x - y;
            long pk;
            if (k == -(long)d ||
                (k != (long)d && pv[k - 1 + pd] < pv[k + 1 + pd]))
                pk = k + 1;
            else
                pk = k - 1;
            long px = pv[pk + pd], py = px - pk;
            while (x > px && y > py) {
                x--;
                y--;
                ops[k_ops++] = (diff_op){' ', (size_t)x, (size_t)y};
            }
            if (x == px)
                ops[k_ops++] = (diff_op){'+', (size_t)x, (size_t)--y};
            else
                ops[k_ops++] = (diff_op){'-', (size_t)--x, (size_t)y};
        }
        while (x > 0 && y > 0) {
            x--;
            y--;
            ops[k_ops++] = (diff_op){' ', (size_t)x, (size_t)y};
        }
        for (size_t i = 0; i < k_ops / 2; i++) {
            diff_op t = ops[i];
            ops[i] = ops[k_ops - 1 - i];
            ops[k_ops - 1 - i] = t;
        }
    }
    free(v);
    free(hist);
    *nops = k_ops;
    return ops;
fail:
    free(v);
    free(hist);
    free(ops);
    return NULL;
}

static void put_line(FILE *out, char tag, const diff_line *l)
{
    fputc(tag, out);
    fwrite(l->s, 1, l->n, out);
    if (l->n == 0 || l->s[l->n - 1] != '\n')
        fputs("\n\\ No newline at end of file\n", out);
}

/* Prints a unified diff of old -> new with 3 lines of context. */
void lmr__build_print_diff(FILE *out, const char *path, const char *old, size_t on,
                       const char *neu, size_t nn)
{
    diff_line *a = NULL, *b = NULL;
    size_t n = split_lines(old, on, &a), m = split_lines(neu, nn, &b);
    if (n == (size_t)-1 || m == (size_t)-1) {
        free(a);
        free(b);
        fprintf(out, "--- %s\n+++ %s\n(diff unavailable: out of memory)\n", path, path);
        return;
    }
    size_t nops = 0;
    diff_op *ops = myers(a, n, b, m, &nops);
    if (!ops) {
        free(a);
        free(b);
        fprintf(out, "--- %s\n+++ %s\n(diff unavailable: out of memory)\n", path, path);
        return;
    }
    fprintf(out, "--- a/%s\n+++ b/%s\n", path, path);
    const size_t ctx = 3;
    size_t i = 0;
    while (i < nops) {
        while (i < nops && ops[i].op == ' ')
            i++;
        if (i >= nops)
            break;
        size_t start = i >= ctx ? i - ctx : 0;
        /* Extend the hunk while changes are within 2*ctx of each other. */
        size_t end = i, last_change = i;
        while (end < nops) {
            if (ops[end].op != ' ')
                last_change = end;
            else if (end - last_change > 2 * ctx)
                break;
            end++;
        }
        size_t stop = last_change + ctx + 1 < nops ? last_change + ctx + 1 : nops;
        size_t a0 = ops[start].ai, b0 = ops[start].bi, ac = 0, bc = 0;
        for (size_t k = start; k < stop; k++) {
            if (ops[k].op != '+')
                ac++;
            if (ops[k].op != '-')
                bc++;
        }
        fprintf(out, "@@ -%zu,%zu +%zu,%zu @@\n", ac ? a0 + 1 : a0, ac,
                bc ? b0 + 1 : b0, bc);
        for (size_t k = start; k < stop; k++) {
            if (ops[k].op == '+')
                put_line(out, '+', &b[ops[k].bi]);
            else
                put_line(out, ops[k].op, &a[ops[k].ai]);
        }
        i = stop;
    }
    free(ops);
    free(a);
    free(b);
}

