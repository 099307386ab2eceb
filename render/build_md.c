/*
 * build_md.c: Markdown regions of `loopmaid build` targets: the markers
 *
 *     <!-- loopmaid:NAME sum=0123456789abcdef -->  ...  <!-- /loopmaid -->
 *
 * (markers inside a code fence are examples, not markers), the checksum that
 * detects a hand edit, and the new bytes of a target: everything outside the
 * markers byte for byte, the line ending of the file kept.
 */
#include "build.h"

#include <stdlib.h>
#include <string.h>
#include <errno.h>

/* Appends n bytes to b through the render half's one lmr_buf growth
 * (out.c); false when out of memory. */
static bool append(lmr_buf *b, const char *s, size_t n)
{
    return lmr__buf_append(b, s, n) == 0;
}

/* FNV-1a (64 bits: small, stable across machines, enough to detect edits)
 * of a block, with its line endings normalised to LF, so converting a
 * file between LF and CRLF is not mistaken for a hand edit. */
uint64_t lmr__build_sum(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
            continue;
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static bool line_is(const char *s, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    return n == l && memcmp(s, lit, l) == 0;
}

/*
 * Scans text for regions and checks that every marker is balanced. Finds the
 * one called `name` into *r (found = false when absent). Marker lines are
 * recognised when they start a line, after optional spaces.
 */
int lmr__build_md_scan(const char *file, const char *text, size_t len,
                   const char *name, md_region *r, bool *found, lmr_error *err)
{
    *found = false;
    bool open = false;
    md_region cur = {0};
    char cur_name[256] = "";
    int line = 1;
    bool in_fence = false;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && text[j] != '\n')
            j++;
        size_t eol = j < len ? j + 1 : j;
        size_t end = j;
        if (end > i && text[end - 1] == '\r')
            end--;
        size_t s = i;
        while (s < end && text[s] == ' ')
            s++;
        const char *ln = text + s;
        size_t n = end - s;
        int col = (int)(s - i) + 1;
        /* Markers inside a code fence that loopmaid did not write (e.g. a
         * README showing the syntax) are examples, not markers. */
        if (!open && n >= 3 && (memcmp(ln, "```", 3) == 0 || memcmp(ln, "~~~", 3) == 0))
            in_fence = !in_fence;
        else if (!in_fence && n >= 15 && memcmp(ln, "<!-- loopmaid:", 14) == 0) {
            if (open)
                return lmr__err(err, LMR_ECONFIG, file, line, col,
                                "region '%s' opened at line %d is not closed before this marker (add <!-- /loopmaid -->)",
                                cur_name, cur.line);
            /* The name runs to the first space; a name glued to the
             * closing "-->" (<!-- loopmaid:a-b-->) loses that suffix. */
            const char *p = ln + 14, *q = p;
            while (q < ln + n && *q != ' ')
                q++;
            if (q - p >= 3 && memcmp(q - 3, "-->", 3) == 0 && q == ln + n)
                q -= 3;
            size_t nl = (size_t)(q - p);
            if (nl == 0 || nl >= sizeof cur_name)
                return lmr__err(err, LMR_ECONFIG, file, line, col,
                                "marker without a region name (write <!-- loopmaid:NAME -->)");
            memcpy(cur_name, p, nl);
            cur_name[nl] = '\0';
            memset(&cur, 0, sizeof cur);
            while (q < ln + n && *q == ' ')
                q++;
            if ((size_t)(ln + n - q) >= 4 && memcmp(q, "sum=", 4) == 0) {
                char *e;
                errno = 0;
                cur.sum = strtoull(q + 4, &e, 16);
                if (e != q + 20 || errno)
                    return lmr__err(err, LMR_ECONFIG, file, line,
                                    col + (int)(q - ln),
                                    "bad checksum in marker (expected sum= and 16 hex digits)");
                cur.has_sum = true;
                q = e;
                while (q < ln + n && *q == ' ')
                    q++;
            }
            if ((size_t)(ln + n - q) != 3 || memcmp(q, "-->", 3) != 0)
                return lmr__err(err, LMR_ECONFIG, file, line, col,
                                "malformed marker (expected <!-- loopmaid:NAME --> on a line of its own)");
            cur.open_start = i;
            cur.open_end = eol;
            cur.body_start = eol;
            cur.line = line;
            cur.col = col;
            open = true;
        } else if (!in_fence && line_is(ln, n, "<!-- /loopmaid -->")) {
            if (!open)
                return lmr__err(err, LMR_ECONFIG, file, line, col,
                                "closing marker without an opening <!-- loopmaid:NAME -->");
            cur.body_end = i;
            cur.close_start = i;
            open = false;
            if (!strcmp(cur_name, name)) {
                if (*found)
                    return lmr__err(err, LMR_ECONFIG, file, cur.line, cur.col,
                                    "region '%s' appears twice (first at line %d)",
                                    name, r->line);
                *r = cur;
                *found = true;
            }
        }
        i = eol;
        line++;
    }
    if (open)
        return lmr__err(err, LMR_ECONFIG, file, cur.line, cur.col,
                        "region '%s' is never closed (add <!-- /loopmaid -->)",
                        cur_name);
    return 0;
}

/* The file's line ending: CRLF when its first line ends so. */
const char *lmr__build_eol(const char *text, size_t len)
{
    const char *nl = memchr(text, '\n', len);
    return (nl && nl > text && nl[-1] == '\r') ? "\r\n" : "\n";
}

/* Appends s to b, turning every "\n" into eol; false when out of memory. */
bool lmr__build_put_eol(lmr_buf *b, const char *s, size_t n, const char *eol)
{
    size_t el = strlen(eol);
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t k = nl ? (size_t)(nl - (s + i)) : n - i;
        if (!append(b, s + i, k))
            return false;
        i += k;
        if (nl) {
            if (!append(b, eol, el))
                return false;
            i++;
        }
    }
    return true;
}

/*
 * Builds the new bytes of e's target into *next given its current bytes
 * (cur == NULL when the file does not exist). Returns 0 or an error.
 */
int lmr__build_compose(const build_config *c, const build_entry *e,
                   const char *cur, size_t curlen, const lmr_buf *diagram,
                   const build_flags *fl, lmr_buf *next, lmr_error *err)
{
    if (!e->region) {
        /* A whole .mmd file: exactly the diagram. */
        const char *eol = cur ? lmr__build_eol(cur, curlen) : "\n";
        if (!lmr__build_put_eol(next, diagram->data ? diagram->data : "",
                         diagram->len, eol))
            return lmr__err(err, LMR_ENOMEM, e->target, 0, 0, "out of memory");
        return 0;
    }
    if (!cur)
        return lmr__err(err, LMR_ECONFIG, c->path, e->target_pos.line,
                        e->target_pos.col,
                        "target '%s' does not exist (a Markdown target needs the markers <!-- loopmaid:%s --> and <!-- /loopmaid -->)",
                        e->target, e->region);
    md_region r = {0};
    bool found;
    int rc = lmr__build_md_scan(e->target, cur, curlen, e->region, &r, &found, err);
    if (rc != 0)
        return rc;
    if (!found)
        return lmr__err(err, LMR_ECONFIG, c->path, e->region_pos.line,
                        e->region_pos.col,
                        "'%s' has no region '%s' (add <!-- loopmaid:%s --> and <!-- /loopmaid --> where the diagram goes)",
                        e->target, e->region, e->region);
    if (r.has_sum && !fl->force &&
        lmr__build_sum(cur + r.body_start, r.body_end - r.body_start) != r.sum)
        return lmr__err(err, LMR_EEDITED, e->target, r.line, r.col,
                        "region '%s' was edited by hand since loopmaid wrote it; not overwriting it (use --force to replace it)",
                        e->region);
    const char *eol = lmr__build_eol(cur, curlen);
    /* The block: a ```mermaid fence around the diagram. The diagram text
     * never holds a line starting with ``` (the escaper encodes backticks),
     * so the fence cannot be closed early. */
    lmr_buf body = {0};
    bool ok = lmr__build_put_eol(&body, "```mermaid\n", 11, eol) &&
              lmr__build_put_eol(&body, diagram->data ? diagram->data : "",
                          diagram->len, eol) &&
              (diagram->len == 0 || diagram->data[diagram->len - 1] == '\n' ||
               lmr__build_put_eol(&body, "\n", 1, eol)) &&
              lmr__build_put_eol(&body, "```\n", 4, eol);
    uint64_t sum = ok ? lmr__build_sum(body.data, body.len) : 0;
    char marker[300];
    snprintf(marker, sizeof marker, "<!-- loopmaid:%s sum=%016llx -->", e->region,
             (unsigned long long)sum);
    /* Everything before the opening marker's line and everything from the
     * closing marker on are copied byte for byte; only the marker line (to
     * refresh its sum, keeping its indentation) and the body are new. */
    size_t ind = 0;
    while (cur[r.open_start + ind] == ' ')
        ind++;
    ok = ok && append(next, cur, r.open_start + ind) &&
         append(next, marker, strlen(marker)) &&
         append(next, eol, strlen(eol)) &&
         append(next, body.data ? body.data : "", body.len) &&
         append(next, cur + r.close_start, curlen - r.close_start);
    lmr_buf_free(&body);
    if (!ok)
        return lmr__err(err, LMR_ENOMEM, e->target, 0, 0, "out of memory");
    return 0;
}

