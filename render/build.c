/*
 * build.c: `loopmaid build`, docs builds driven by a config file.
 *
 *   loopmaid build [-c loopmaid.yaml] [--check] [--diff] [--force] [-q]
 *
 * The config (YAML) lists diagrams; each names a trace, a view with the same
 * options as `render`, and a target: a whole `.mmd` file, or a named region
 * of a Markdown file between
 *
 *     <!-- loopmaid:NAME sum=0123456789abcdef -->
 *     ```mermaid
 *     ...
 *     ```
 *     <!-- /loopmaid -->
 *
 * The sum is a checksum (FNV-1a 64) of what loopmaid last wrote between the
 * markers. If the region no longer matches it, somebody edited the generated
 * block by hand, and the build refuses to overwrite it unless --force.
 * A region whose opening marker has no sum yet is filled without question.
 *
 * Why a checksum in the marker and not a side file: the Markdown file stays
 * self-contained, so copying or renaming it keeps the protection.
 *
 * Output is byte-stable: nothing here depends on the time, the machine or the
 * order of the filesystem, so an unchanged trace never changes a target, and
 * `--check` in CI fails exactly when a target is stale. Targets are written
 * through the one writer (outfile.c: atomic, mode kept, links followed) and
 * only when their bytes change; text outside the markers is never touched; a
 * CRLF file keeps CRLF.
 *
 * `run:` commands run under the virtual clock with a time limit (`timeout:`,
 * default 60 s) in their own process group, which is killed when the time
 * is up and once the command has exited, so nothing it started outlives the
 * build. A build writes the trace to a temporary file beside the trace path
 * (creating the folders it needs) and renames it into place only when the
 * command succeeded; --check and --diff write it into a temporary folder
 * instead, so they change no file at all.
 */
#include "lmr_internal.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <yaml.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A config larger than this is not a config: refuse it before parsing. */
#define BUILD_MAX_CONFIG (1u << 20)
/* A target file larger than this is refused (the diff is quadratic-ish). */
#define BUILD_MAX_TARGET (16u << 20)
#define BUILD_MAX_ENTRIES 1000
/* A `run:` without `timeout:` gets this long (ns). */
#define BUILD_RUN_TIMEOUT (60LL * 1000000000LL)
/* After the time limit: SIGTERM to the group, this long (ns), then SIGKILL. */
#define BUILD_KILL_GRACE (1000000000LL)

typedef struct build_pos {
    int line, col;
} build_pos;

/* One diagram of the config. Strings are owned. */
typedef struct build_entry {
    char *name;
    build_pos pos;          /* of the entry's mapping */
    char *trace;            /* resolved against the config's directory */
    build_pos trace_pos;
    char *run;              /* optional shell command; cwd = config dir */
    build_pos run_pos;
    int64_t timeout;        /* ns; 0 = BUILD_RUN_TIMEOUT */
    char *target;           /* resolved */
    build_pos target_pos;
    char *region;           /* NULL: the target is a whole .mmd file */
    build_pos region_pos;
    char *title, *tasks, *exclude, *states;
    build_pos tasks_pos, exclude_pos;
    unsigned given;         /* LMR__OPT_* bits of the options it sets */
    build_pos given_pos[LMR__OPT__COUNT];
    lmr_options opts;
} build_entry;

typedef struct build_config {
    char *path;             /* as given */
    char *dir;              /* its directory, for relative paths */
    build_entry *entries;
    size_t n;
} build_config;

typedef struct build_flags {
    bool check, diff, force, quiet;
} build_flags;

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */
/* ------------------------------------------------------------------------ */

static char *build_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* Joins dir and a relative path; absolute paths are kept. Caller frees. */
static char *build_resolve(const char *dir, const char *path)
{
    if (path[0] == '/' || dir[0] == '\0' || strcmp(dir, ".") == 0)
        return build_strdup(path);
    size_t a = strlen(dir), b = strlen(path);
    char *r = malloc(a + b + 2);
    if (!r)
        return NULL;
    memcpy(r, dir, a);
    r[a] = '/';
    memcpy(r + a + 1, path, b + 1);
    return r;
}

static void build_entry_free(build_entry *e)
{
    free(e->name);
    free(e->trace);
    free(e->run);
    free(e->target);
    free(e->region);
    free(e->title);
    free(e->tasks);
    free(e->exclude);
    free(e->states);
}

static void build_config_free(build_config *c)
{
    for (size_t i = 0; i < c->n; i++)
        build_entry_free(&c->entries[i]);
    free(c->entries);
    free(c->dir);
    c->entries = NULL;
    c->dir = NULL;
    c->n = 0;
}

/* Reads a whole file (at most `max` bytes). Returns 0, or -ENOENT etc. */
static int build_slurp(const char *path, size_t max, char **out, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -errno;
    /* glibc opens a directory for reading and only the first read fails
     * (EISDIR), which ferror() would turn into a vague EIO: say what it is. */
    struct stat st;
    if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(fp);
        return -EISDIR;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        fclose(fp);
        return -ENOMEM;
    }
    for (;;) {
        if (n == cap) {
            if (cap >= max) {
                free(buf);
                fclose(fp);
                return -EFBIG;
            }
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                fclose(fp);
                return -ENOMEM;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (got == 0)
            break;
    }
    bool bad = ferror(fp);
    fclose(fp);
    if (bad) {
        free(buf);
        return -EIO;
    }
    if (n > max) {
        free(buf);
        return -EFBIG;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* Appends n bytes to b; false when out of memory. */
static bool buf_append(lmr_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *nd = realloc(b->data, cap);
        if (!nd)
            return false;
        b->data = nd;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

/* FNV-1a (64 bits: small, stable across machines, enough to detect edits)
 * of a block, with its line endings normalised to LF, so converting a
 * file between LF and CRLF is not mistaken for a hand edit. */
static uint64_t build_sum(const char *s, size_t n)
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

/* ------------------------------------------------------------------------ */
/* The config                                                               */
/* ------------------------------------------------------------------------ */

static int cfg_err(lmr_error *err, const char *file, yaml_mark_t m,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int cfg_err(lmr_error *err, const char *file, yaml_mark_t m,
                   const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return lmr__err(err, LMR_ECONFIG, file, (int)m.line + 1, (int)m.column + 1,
                    "%s", msg);
}

static const char *node_str(yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* Parses a non-negative integer scalar; false when it is not one. */
static bool parse_size(const char *s, size_t *out)
{
    if (*s == '\0')
        return false;
    size_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (SIZE_MAX - 9) / 10)
            return false;
        v = v * 10 + (size_t)(*s - '0');
    }
    *out = v;
    return true;
}

static bool parse_bool(const char *s, int *out)
{
    if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on")) {
        *out = 1;
        return true;
    }
    if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off")) {
        *out = 0;
        return true;
    }
    return false;
}

/* Checks a regex where it is written, so the error points into the config. */
static int check_regex(const char *file, yaml_node_t *v, lmr_error *err)
{
    const char *re = node_str(v);
    yaml_mark_t m = v->start_mark;
    int code;
    PCRE2_SIZE off;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED,
                                  PCRE2_UTF, &code, &off, NULL);
    if (c) {
        pcre2_code_free(c);
        return 0;
    }
    PCRE2_UCHAR text[200];
    pcre2_get_error_message(code, text, sizeof text);
    /* Point at the offending character: the value's start, plus the
     * opening quote when it is quoted, plus PCRE2's offset (exact for
     * values without escapes, which regexes in configs almost always are). */
    m.column += off + (v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? 0 : 1);
    return lmr__err(err, LMR_EREGEX, file, (int)m.line + 1,
                    (int)m.column + 1, "bad regular expression: %s", text);
}

static int set_str(char **dst, yaml_node_t *v)
{
    free(*dst);
    *dst = build_strdup(node_str(v));
    return *dst ? 0 : LMR_ENOMEM;
}

static int load_entry(build_config *c, yaml_document_t *doc, yaml_node_t *map,
                      build_entry *e, lmr_error *err)
{
    const char *f = c->path;
    lmr_options_init(&e->opts);
    e->pos.line = (int)map->start_mark.line + 1;
    e->pos.col = (int)map->start_mark.column + 1;
    if (map->type != YAML_MAPPING_NODE)
        return cfg_err(err, f, map->start_mark,
                       "a diagram must be a mapping (name:, trace:, view:, target:)");
    yaml_node_t *target_node = NULL, *trace_node = NULL, *region_node = NULL;
    bool have_view = false;
    /* Config keys of the options only some views use, by LMR__OPT_* bit. */
    static const char *const opt_key[LMR__OPT__COUNT] = {
        "tasks", "exclude", "from", "to", "states", "counts", "max_messages"};
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        yaml_node_t *v = yaml_document_get_node(doc, p->value);
        if (!k || !v || k->type != YAML_SCALAR_NODE)
            return cfg_err(err, f, k ? k->start_mark : map->start_mark,
                           "keys must be plain words");
        const char *key = node_str(k);
        if (v->type != YAML_SCALAR_NODE)
            return cfg_err(err, f, v->start_mark,
                           "'%s' takes a single value, not a list or mapping", key);
        const char *val = node_str(v);
        int rc = 0;
        for (int b = 0; b < LMR__OPT__COUNT; b++)
            if (!strcmp(key, opt_key[b])) {
                e->given |= 1u << b;
                e->given_pos[b] = (build_pos){(int)k->start_mark.line + 1,
                                              (int)k->start_mark.column + 1};
            }
        if (!strcmp(key, "name")) {
            rc = set_str(&e->name, v);
        } else if (!strcmp(key, "trace")) {
            trace_node = v;
        } else if (!strcmp(key, "run")) {
            rc = set_str(&e->run, v);
            e->run_pos = (build_pos){(int)v->start_mark.line + 1,
                                     (int)v->start_mark.column + 1};
        } else if (!strcmp(key, "timeout")) {
            if (!lmr__parse_time(val, &e->timeout) || e->timeout <= 0)
                return cfg_err(err, f, v->start_mark,
                               "'timeout' must be a time above zero like 500ms, 10s or 90s, not '%s'",
                               val);
        } else if (!strcmp(key, "target")) {
            target_node = v;
        } else if (!strcmp(key, "region")) {
            region_node = v;
        } else if (!strcmp(key, "view")) {
            int vw = lmr_view_parse(val);
            if (vw < 0)
                return cfg_err(err, f, v->start_mark,
                               "unknown view '%s' (state, sequence, flowchart, tasks, gantt, advise)",
                               val);
            e->opts.view = (lmr_view)vw;
            have_view = true;
        } else if (!strcmp(key, "title")) {
            rc = set_str(&e->title, v);
        } else if (!strcmp(key, "tasks")) {
            if ((rc = check_regex(f, v, err)) != 0)
                return rc;
            rc = set_str(&e->tasks, v);
        } else if (!strcmp(key, "exclude")) {
            if ((rc = check_regex(f, v, err)) != 0)
                return rc;
            rc = set_str(&e->exclude, v);
        } else if (!strcmp(key, "states")) {
            rc = set_str(&e->states, v);
        } else if (!strcmp(key, "max_chars") || !strcmp(key, "max_messages")) {
            size_t n;
            if (!parse_size(val, &n) || n == 0)
                return cfg_err(err, f, v->start_mark,
                               "'%s' must be a positive whole number, not '%s'", key, val);
            /* The same floor as `render --max-chars`: below it the views
             * cannot fit even their header and elision note, and would
             * write an empty diagram that reports success. */
            if (key[4] == 'c' && n < LMR__MIN_MAX_CHARS)
                return cfg_err(err, f, v->start_mark,
                               "'max_chars' must be at least %u, not '%s'",
                               (unsigned)LMR__MIN_MAX_CHARS, val);
            if (key[4] == 'c')
                e->opts.max_chars = n;
            else
                e->opts.max_messages = n;
        } else if (!strcmp(key, "from") || !strcmp(key, "to")) {
            int64_t t;
            if (!lmr__parse_time(val, &t))
                return cfg_err(err, f, v->start_mark,
                               "'%s' must be a time like 1500ns, 20us, 3ms or 2s, not '%s'",
                               key, val);
            if (key[0] == 'f')
                e->opts.from = t;
            else
                e->opts.to = t;
        } else if (!strcmp(key, "counts")) {
            if (!parse_bool(val, &e->opts.counts))
                return cfg_err(err, f, v->start_mark,
                               "'counts' must be true or false, not '%s'", val);
        } else if (!strcmp(key, "format")) {
            return cfg_err(err, f, k->start_mark,
                           "'format' is decided by the target: a .mmd file gets Mermaid text, a Markdown region a ```mermaid block");
        } else {
            return cfg_err(err, f, k->start_mark,
                           "unknown key '%s' (name, trace, run, timeout, view, target, region, title, tasks, exclude, states, max_chars, max_messages, from, to, counts)",
                           key);
        }
        if (rc != 0)
            return lmr__err(err, LMR_ENOMEM, f, 0, 0, "out of memory");
    }
    if (!e->name)
        return cfg_err(err, f, map->start_mark, "this diagram has no 'name'");
    for (const char *s = e->name; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
            return cfg_err(err, f, map->start_mark,
                           "diagram name '%s' may use only letters, digits, '-', '_' and '.'",
                           e->name);
    if (!trace_node)
        return cfg_err(err, f, map->start_mark, "diagram '%s' has no 'trace'", e->name);
    if (!target_node)
        return cfg_err(err, f, map->start_mark, "diagram '%s' has no 'target'", e->name);
    if (!have_view)
        return cfg_err(err, f, map->start_mark, "diagram '%s' has no 'view'", e->name);
    /* The same table as `render` (cli.c): an option the view does not use
     * is refused where it is written, not accepted and ignored. */
    if (lmr__view_refuses(e->opts.view, e->given))
        for (int b = 0; b < LMR__OPT__COUNT; b++)
            if ((e->given & (1u << b)) && lmr__view_refuses(e->opts.view, 1u << b))
                return lmr__err(err, LMR_ECONFIG, f, e->given_pos[b].line,
                                e->given_pos[b].col,
                                "'%s' is not used by the %s view; leave it out",
                                opt_key[b], lmr_view_name(e->opts.view));
    if (e->timeout && !e->run)
        return cfg_err(err, f, map->start_mark,
                       "diagram '%s' has a 'timeout' but no 'run' command", e->name);
    e->trace = build_resolve(c->dir, node_str(trace_node));
    e->target = build_resolve(c->dir, node_str(target_node));
    if (!e->trace || !e->target)
        return lmr__err(err, LMR_ENOMEM, f, 0, 0, "out of memory");
    e->trace_pos = (build_pos){(int)trace_node->start_mark.line + 1,
                               (int)trace_node->start_mark.column + 1};
    e->target_pos = (build_pos){(int)target_node->start_mark.line + 1,
                                (int)target_node->start_mark.column + 1};
    size_t tl = strlen(e->target);
    bool is_md = tl >= 3 && (!strcmp(e->target + tl - 3, ".md") ||
                             (tl >= 9 && !strcmp(e->target + tl - 9, ".markdown")));
    if (region_node) {
        if (!is_md)
            return cfg_err(err, f, region_node->start_mark,
                           "'region' needs a Markdown target (.md), and '%s' is not one",
                           node_str(target_node));
        if (set_str(&e->region, region_node) != 0)
            return lmr__err(err, LMR_ENOMEM, f, 0, 0, "out of memory");
        e->region_pos = (build_pos){(int)region_node->start_mark.line + 1,
                                    (int)region_node->start_mark.column + 1};
    } else if (is_md) {
        /* A Markdown target without a region uses the diagram's name. */
        e->region = build_strdup(e->name);
        e->region_pos = e->pos;
        if (!e->region)
            return lmr__err(err, LMR_ENOMEM, f, 0, 0, "out of memory");
    }
    e->opts.title = e->title;
    e->opts.tasks = e->tasks;
    e->opts.exclude = e->exclude;
    e->opts.states = e->states;
    return 0;
}

static int load_config(const char *path, build_config *c, lmr_error *err)
{
    memset(c, 0, sizeof *c);
    c->path = (char *)path;
    const char *slash = strrchr(path, '/');
    c->dir = slash ? strndup(path, (size_t)(slash - path)) : build_strdup(".");
    if (!c->dir)
        return lmr__err(err, LMR_ENOMEM, path, 0, 0, "out of memory");
    if (c->dir[0] == '\0') {
        free(c->dir);
        c->dir = build_strdup("/");
    }
    char *text;
    size_t len;
    int rc = build_slurp(path, BUILD_MAX_CONFIG, &text, &len);
    /* Every early return frees c->dir too (found by fuzz/fuzz_config.c). */
    if (rc == -EFBIG) {
        build_config_free(c);
        return lmr__err(err, LMR_ECONFIG, path, 0, 0,
                        "config is larger than %u bytes", BUILD_MAX_CONFIG);
    }
    if (rc != 0) {
        build_config_free(c);
        return lmr__err(err, LMR_EIO, path, 0, 0, "cannot read config: %s",
                        strerror(-rc));
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = lmr__err(err, LMR_ECONFIG, path, (int)parser.problem_mark.line + 1,
                      (int)parser.problem_mark.column + 1, "not valid YAML: %s",
                      parser.problem ? parser.problem : "parse error");
        yaml_parser_delete(&parser);
        free(text);
        build_config_free(c);
        return rc;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    yaml_node_t *diagrams = NULL;
    if (!root) {
        rc = lmr__err(err, LMR_ECONFIG, path, 1, 1,
                      "config is empty: it needs a 'diagrams:' list");
        goto out;
    }
    if (root->type != YAML_MAPPING_NODE) {
        rc = cfg_err(err, path, root->start_mark,
                     "config must be a mapping with 'version: 1' and 'diagrams:'");
        goto out;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
         p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&doc, p->value);
        if (!k || k->type != YAML_SCALAR_NODE || !v) {
            rc = cfg_err(err, path, root->start_mark, "keys must be plain words");
            goto out;
        }
        if (!strcmp(node_str(k), "version")) {
            if (v->type != YAML_SCALAR_NODE || strcmp(node_str(v), "1") != 0) {
                rc = cfg_err(err, path, v->start_mark,
                             "unsupported config version (this loopmaid knows version 1)");
                goto out;
            }
        } else if (!strcmp(node_str(k), "diagrams")) {
            diagrams = v;
        } else {
            rc = cfg_err(err, path, k->start_mark,
                         "unknown key '%s' (version, diagrams)", node_str(k));
            goto out;
        }
    }
    if (!diagrams) {
        rc = cfg_err(err, path, root->start_mark, "config has no 'diagrams:' list");
        goto out;
    }
    if (diagrams->type != YAML_SEQUENCE_NODE) {
        rc = cfg_err(err, path, diagrams->start_mark,
                     "'diagrams' must be a list of diagrams");
        goto out;
    }
    size_t n = (size_t)(diagrams->data.sequence.items.top -
                        diagrams->data.sequence.items.start);
    if (n > BUILD_MAX_ENTRIES) {
        rc = cfg_err(err, path, diagrams->start_mark,
                     "too many diagrams (%zu; the limit is %d)", n, BUILD_MAX_ENTRIES);
        goto out;
    }
    c->entries = calloc(n ? n : 1, sizeof *c->entries);
    if (!c->entries) {
        rc = lmr__err(err, LMR_ENOMEM, path, 0, 0, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item =
            yaml_document_get_node(&doc, diagrams->data.sequence.items.start[i]);
        c->n = i + 1;
        if ((rc = load_entry(c, &doc, item, &c->entries[i], err)) != 0)
            goto out;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(c->entries[j].name, c->entries[i].name)) {
                rc = cfg_err(err, path, item->start_mark,
                             "diagram name '%s' is used twice (first at line %d)",
                             c->entries[i].name, c->entries[j].pos.line);
                goto out;
            }
    }
out:
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    free(text);
    if (rc != 0)
        build_config_free(c);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Markdown regions                                                          */
/* ------------------------------------------------------------------------ */

/* A region found in a Markdown text: byte offsets. */
typedef struct md_region {
    size_t open_start, open_end;   /* the opening marker line, with its EOL */
    size_t body_start, body_end;   /* between the markers */
    size_t close_start;            /* the closing marker line */
    bool has_sum;
    uint64_t sum;
    int line, col;                 /* of the opening marker */
} md_region;

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
static int md_scan(const char *file, const char *text, size_t len,
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
static const char *detect_eol(const char *text, size_t len)
{
    const char *nl = memchr(text, '\n', len);
    return (nl && nl > text && nl[-1] == '\r') ? "\r\n" : "\n";
}

/* Appends s to b, turning every "\n" into eol; false when out of memory. */
static bool buf_put_eol(lmr_buf *b, const char *s, size_t n, const char *eol)
{
    size_t el = strlen(eol);
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t k = nl ? (size_t)(nl - (s + i)) : n - i;
        if (!buf_append(b, s + i, k))
            return false;
        i += k;
        if (nl) {
            if (!buf_append(b, eol, el))
                return false;
            i++;
        }
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* Unified diff (Myers' O(ND) algorithm on lines)                            */
/* ------------------------------------------------------------------------ */

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
static void print_diff(FILE *out, const char *path, const char *old, size_t on,
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

/* ------------------------------------------------------------------------ */
/* Building one entry                                                       */
/* ------------------------------------------------------------------------ */

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Waits until pid has ended or `deadline` (monotonic ns) passed; true when
 * it ended. It is not reaped (WNOWAIT): while it is a zombie its pid, and so
 * its process group id, cannot be reused, so killing the group stays safe. */
static bool wait_until(pid_t pid, int64_t deadline)
{
    long nap = 1000000; /* 1 ms, doubling to 50 ms: quick commands stay quick */
    for (;;) {
        siginfo_t si;
        si.si_pid = 0;
        int w = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT);
        if (w == 0 && si.si_pid == pid)
            return true;
        if (w < 0 && errno != EINTR)
            return true; /* lost it (ECHILD): nothing left to wait for */
        int64_t left = deadline - mono_ns();
        if (left <= 0)
            return false;
        struct timespec ts = {0, nap < left ? nap : (long)left};
        nanosleep(&ts, NULL);
        if (nap < 50000000)
            nap *= 2;
    }
}

/*
 * Runs an entry's `run:` command under the virtual clock with its trace
 * going to `dest` (absolute), in its own process group, for at most its
 * timeout. When the time is up the whole group gets SIGTERM, then SIGKILL
 * after a grace second; a timeout is reported at the `run:` value.
 */
static int run_command(const build_config *c, const build_entry *e,
                       const char *dest, lmr_error *err)
{
    int64_t limit = e->timeout > 0 ? e->timeout : BUILD_RUN_TIMEOUT;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return lmr__err(err, LMR_EIO, c->path, e->run_pos.line, e->run_pos.col,
                        "cannot start '%s': %s", e->run, strerror(errno));
    if (pid == 0) {
        setpgid(0, 0);
        if (chdir(c->dir) != 0)
            _exit(126);
        setenv("LOOPMAID_CLOCK", "virtual", 1);
        setenv("LOOPMAID_TRACE", dest, 1);
        /* Descriptor numbers show up in traces (fd: N): close everything the
         * build inherited above stderr so a command's trace does not depend
         * on what the caller happened to leave open. */
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
        /* stdin too: a command that reads it must not wait for a CI log. */
        int in = open("/dev/null", O_RDONLY), out = open("/dev/null", O_WRONLY);
        if (in >= 0)
            dup2(in, 0);
        if (out >= 0)
            dup2(out, 1);
        if (in > 2)
            close(in);
        if (out > 2)
            close(out);
        execl("/bin/sh", "sh", "-c", e->run, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid); /* also here: whichever runs first, the group exists */
    int st = 0;
    bool ended = wait_until(pid, mono_ns() + limit);
    if (!ended) {
        kill(-pid, SIGTERM);
        if (!wait_until(pid, mono_ns() + BUILD_KILL_GRACE))
            kill(-pid, SIGKILL);
    }
    /* Whatever it left running in its group (a `&` job) ends with it;
     * then the leader is reaped. */
    kill(-pid, SIGKILL);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!ended) {
        char d[32];
        lmr__fmt_dur(d, sizeof d, limit);
        return lmr__err(err, LMR_EIO, c->path, e->run_pos.line, e->run_pos.col,
                        "diagram '%s': 'run: %s' did not finish within %s; "
                        "killed it and its process group (raise the entry's "
                        "'timeout:' if it needs longer)",
                        e->name, e->run, d);
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    if (WIFEXITED(st))
        return lmr__err(err, LMR_EIO, c->path, e->run_pos.line, e->run_pos.col,
                        "diagram '%s': 'run: %s' exited with status %d",
                        e->name, e->run, WEXITSTATUS(st));
    return lmr__err(err, LMR_EIO, c->path, e->run_pos.line, e->run_pos.col,
                    "diagram '%s': 'run: %s' was killed by signal %d", e->name,
                    e->run, WTERMSIG(st));
}

/* p made absolute against the current directory. Caller frees. */
static char *abs_path(const char *p)
{
    if (p[0] == '/')
        return build_strdup(p);
    char *cwd = getcwd(NULL, 0);
    if (!cwd)
        return NULL;
    size_t n = strlen(cwd) + strlen(p) + 2;
    char *r = malloc(n);
    if (r)
        snprintf(r, n, "%s/%s", cwd, p);
    free(cwd);
    return r;
}

/* mkdir -p of the folder that holds `path`. 0 or -errno. */
static int make_parent_dirs(const char *path)
{
    char *d = build_strdup(path);
    if (!d)
        return -ENOMEM;
    char *slash = strrchr(d, '/');
    int rc = 0;
    if (slash && slash != d) {
        *slash = '\0';
        for (char *q = d + 1;; q++) {
            if (*q != '/' && *q != '\0')
                continue;
            char was = *q;
            *q = '\0';
            if (mkdir(d, 0777) != 0 && errno != EEXIST) {
                rc = -errno;
                break;
            }
            *q = was;
            if (!was)
                break;
        }
    }
    free(d);
    return rc;
}

/* A command that succeeded but left its trace empty wrote it somewhere else
 * (by name instead of to $LOOPMAID_TRACE): say so, and keep the old trace. */
static int check_wrote(const build_config *c, const build_entry *e,
                       const char *dest, lmr_error *err)
{
    struct stat st;
    if (stat(dest, &st) == 0 && (st.st_size > 0 || !S_ISREG(st.st_mode)))
        return 0;
    return lmr__err(err, LMR_EIO, c->path, e->run_pos.line, e->run_pos.col,
                    "diagram '%s': 'run: %s' wrote no trace to $LOOPMAID_TRACE "
                    "(the build points it at a temporary file; loopmaid "
                    "programs write there by themselves, a script must too)",
                    e->name, e->run);
}

/*
 * Makes e's trace by running its command. A build writes it beside the trace
 * path (folders created) and renames it into place only on success; a dry
 * run (--check, --diff) writes into a fresh temporary folder and sets
 * *scratch to it (the caller removes it with drop_scratch). *path is where
 * the trace now is.
 */
static int make_trace(const build_config *c, const build_entry *e, bool dry,
                      char **path, char **scratch, lmr_error *err)
{
    *path = NULL;
    *scratch = NULL;
    if (dry) {
        const char *tmp = getenv("TMPDIR");
        char tmpl[512];
        snprintf(tmpl, sizeof tmpl, "%s/loopmaid-build.XXXXXX",
                 tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(tmpl))
            return lmr__err(err, LMR_EIO, c->path, e->run_pos.line, e->run_pos.col,
                            "cannot make a temporary folder for the trace: %s",
                            strerror(errno));
        *scratch = build_strdup(tmpl);
        size_t n = strlen(tmpl) + 16;
        *path = malloc(n);
        if (!*scratch || !*path)
            return lmr__err(err, LMR_ENOMEM, c->path, 0, 0, "out of memory");
        snprintf(*path, n, "%s/trace.yaml", tmpl);
        int rc = run_command(c, e, *path, err);
        return rc ? rc : check_wrote(c, e, *path, err);
    }
    int mk = make_parent_dirs(e->trace);
    if (mk != 0)
        return lmr__err(err, LMR_EIO, c->path, e->trace_pos.line, e->trace_pos.col,
                        "cannot make the folder for trace '%s': %s", e->trace,
                        strerror(-mk));
    const char *inputs[] = {c->path};
    lmr__outfile of;
    int rc = lmr__outfile_open(&of, e->trace, inputs, 1, err);
    if (rc != 0)
        return rc;
    char *dest = abs_path(of.tmp ? of.tmp : e->trace);
    if (!dest) {
        lmr__outfile_abort(&of);
        return lmr__err(err, LMR_ENOMEM, c->path, 0, 0, "out of memory");
    }
    if (of.fd >= 0 && of.close_fd) {
        close(of.fd); /* the tracer opens it by name */
        of.fd = -1;
    }
    rc = run_command(c, e, dest, err);
    if (rc == 0)
        rc = check_wrote(c, e, dest, err);
    free(dest);
    if (rc != 0) {
        lmr__outfile_abort(&of);
        return rc;
    }
    if ((rc = lmr__outfile_commit(&of, err)) != 0)
        return rc;
    *path = build_strdup(e->trace);
    return *path ? 0 : lmr__err(err, LMR_ENOMEM, c->path, 0, 0, "out of memory");
}

static void drop_scratch(char *path, char *scratch)
{
    if (scratch) {
        if (path)
            unlink(path);
        rmdir(scratch);
    }
    free(path);
    free(scratch);
}

/* Outcome of one target. */
enum { T_SAME = 0, T_CHANGED = 1 };

/*
 * Builds the new bytes of e's target into *next given its current bytes
 * (cur == NULL when the file does not exist). Returns 0 or an error.
 */
static int compose(const build_config *c, const build_entry *e,
                   const char *cur, size_t curlen, const lmr_buf *diagram,
                   const build_flags *fl, lmr_buf *next, lmr_error *err)
{
    if (!e->region) {
        /* A whole .mmd file: exactly the diagram. */
        const char *eol = cur ? detect_eol(cur, curlen) : "\n";
        if (!buf_put_eol(next, diagram->data ? diagram->data : "",
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
    int rc = md_scan(e->target, cur, curlen, e->region, &r, &found, err);
    if (rc != 0)
        return rc;
    if (!found)
        return lmr__err(err, LMR_ECONFIG, c->path, e->region_pos.line,
                        e->region_pos.col,
                        "'%s' has no region '%s' (add <!-- loopmaid:%s --> and <!-- /loopmaid --> where the diagram goes)",
                        e->target, e->region, e->region);
    if (r.has_sum && !fl->force &&
        build_sum(cur + r.body_start, r.body_end - r.body_start) != r.sum)
        return lmr__err(err, LMR_EEDITED, e->target, r.line, r.col,
                        "region '%s' was edited by hand since loopmaid wrote it; not overwriting it (use --force to replace it)",
                        e->region);
    const char *eol = detect_eol(cur, curlen);
    /* The block: a ```mermaid fence around the diagram. The diagram text
     * never holds a line starting with ``` (the escaper encodes backticks),
     * so the fence cannot be closed early. */
    lmr_buf body = {0};
    bool ok = buf_put_eol(&body, "```mermaid\n", 11, eol) &&
              buf_put_eol(&body, diagram->data ? diagram->data : "",
                          diagram->len, eol) &&
              (diagram->len == 0 || diagram->data[diagram->len - 1] == '\n' ||
               buf_put_eol(&body, "\n", 1, eol)) &&
              buf_put_eol(&body, "```\n", 4, eol);
    uint64_t sum = ok ? build_sum(body.data, body.len) : 0;
    char marker[300];
    snprintf(marker, sizeof marker, "<!-- loopmaid:%s sum=%016llx -->", e->region,
             (unsigned long long)sum);
    /* Everything before the opening marker's line and everything from the
     * closing marker on are copied byte for byte; only the marker line (to
     * refresh its sum, keeping its indentation) and the body are new. */
    size_t ind = 0;
    while (cur[r.open_start + ind] == ' ')
        ind++;
    ok = ok && buf_append(next, cur, r.open_start + ind) &&
         buf_append(next, marker, strlen(marker)) &&
         buf_append(next, eol, strlen(eol)) &&
         buf_append(next, body.data ? body.data : "", body.len) &&
         buf_append(next, cur + r.close_start, curlen - r.close_start);
    lmr_buf_free(&body);
    if (!ok)
        return lmr__err(err, LMR_ENOMEM, e->target, 0, 0, "out of memory");
    return 0;
}

/*
 * Traces a dry run made, by entry: an entry without `run:` that reads the
 * trace an earlier entry's command makes (advise_io reads fetch's) reads the
 * copy made in this run, as a real build would.
 */
typedef struct build_made {
    char **path, **scratch; /* per entry; NULL when it made none */
} build_made;

static const char *made_trace(const build_config *c, const build_made *m,
                              const build_entry *e)
{
    for (size_t i = 0; i < c->n && &c->entries[i] != e; i++)
        if (m->path[i] && !strcmp(c->entries[i].trace, e->trace))
            return m->path[i];
    return NULL;
}

static int build_entry_run(const build_config *c, const build_entry *e,
                           const build_flags *fl, build_made *made,
                           int *outcome, lmr_error *err)
{
    *outcome = T_SAME;
    bool dry = fl->check || fl->diff;
    size_t idx = (size_t)(e - c->entries);
    int rc;
    char *trace = NULL;
    const char *earlier = dry ? made_trace(c, made, e) : NULL;
    if (e->run) {
        rc = make_trace(c, e, dry, &made->path[idx], &made->scratch[idx], err);
        if (rc != 0)
            return rc;
        trace = build_strdup(made->path[idx]);
    } else {
        trace = build_strdup(earlier ? earlier : e->trace);
    }
    if (!trace)
        return lmr__err(err, LMR_ENOMEM, c->path, 0, 0, "out of memory");
    if (access(trace, R_OK) != 0) {
        rc = lmr__err(err, LMR_ECONFIG, c->path, e->trace_pos.line,
                      e->trace_pos.col, "trace '%s' cannot be read: %s%s",
                      e->run ? trace : e->trace, strerror(errno),
                      e->run ? " (its 'run:' command did not write it)"
                             : " (add a 'run:' command that makes it, or make it first)");
        free(trace);
        return rc;
    }
    lmr_buf diagram = {0};
    lmr_options o = e->opts;
    o.format = LMR_FORMAT_MMD;
    o.quiet = fl->quiet;
    rc = lmr_render_file(trace, &o, &diagram, fl->quiet ? NULL : stderr, err);
    free(trace);
    if (rc != 0) {
        lmr_buf_free(&diagram);
        return rc;
    }
    char *cur = NULL;
    size_t curlen = 0;
    int sr = build_slurp(e->target, BUILD_MAX_TARGET, &cur, &curlen);
    if (sr != 0 && sr != -ENOENT) {
        lmr_buf_free(&diagram);
        return lmr__err(err, LMR_EIO, c->path, e->target_pos.line,
                        e->target_pos.col, "cannot read target '%s': %s",
                        e->target, sr == -EFBIG ? "file too large" : strerror(-sr));
    }
    lmr_buf next = {0};
    rc = compose(c, e, cur, curlen, &diagram, fl, &next, err);
    lmr_buf_free(&diagram);
    if (rc == 0) {
        bool same = cur && next.len == curlen &&
                    (curlen == 0 || memcmp(next.data, cur, curlen) == 0);
        if (!same) {
            *outcome = T_CHANGED;
            if (fl->diff)
                print_diff(stdout, e->target, cur ? cur : "", cur ? curlen : 0,
                           next.data ? next.data : "", next.len);
            if (!dry) {
                /* The trace and the config are inputs: a target naming
                 * either (by any link) is refused, not overwritten. */
                const char *inputs[] = {e->trace, c->path};
                rc = lmr__write_file(e->target, next.data ? next.data : "",
                                     next.len, inputs, 2, err);
            }
        }
    }
    free(cur);
    lmr_buf_free(&next);
    return rc;
}

int lmr__build_check_config(const char *path, lmr_error *err)
{
    build_config c;
    int rc = load_config(path, &c, err);
    if (rc == 0)
        build_config_free(&c);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The command                                                              */
/* ------------------------------------------------------------------------ */

static void build_usage(FILE *fp)
{
    fputs("usage: loopmaid build [-c CONFIG] [--check] [--diff] [--force] [-q] [NAME...]\n"
          "\n"
          "Regenerates the diagrams listed in CONFIG (default: loopmaid.yaml): each\n"
          "entry renders a trace with a view into a .mmd file or into a named region\n"
          "of a Markdown file, between <!-- loopmaid:NAME --> and <!-- /loopmaid -->.\n"
          "NAMEs limit the build to those diagrams.\n"
          "\n"
          "  -c, --config FILE  the config file (default: loopmaid.yaml)\n"
          "      --check        write no file: run each 'run:' command with its trace\n"
          "                     going to a temporary folder (removed after), render,\n"
          "                     and compare with the targets; list every stale\n"
          "                     target and exit 1 if there is one. Trace files and\n"
          "                     targets are left exactly as they are.\n"
          "      --diff         write no file either: print a unified diff of what a\n"
          "                     build would change (with --check: and exit 1 if\n"
          "                     anything would); without it, a build rewrites the\n"
          "                     stale targets and, for entries with 'run:', the traces\n"
          "      --force        overwrite regions that were edited by hand\n"
          "  -q, --quiet        print only errors\n"
          "  -h, --help         this text\n"
          "\n"
          "Config format (YAML):\n"
          "  version: 1\n"
          "  diagrams:\n"
          "    - name: fetch                      # letters, digits, - _ .\n"
          "      run: build/examples/fetch        # optional; runs under the virtual clock\n"
          "      timeout: 10s                     # optional limit for run: (default 60s);\n"
          "                                       #   then its process group is killed\n"
          "      trace: build/demo/fetch.yaml     # the trace it writes / to read\n"
          "      view: sequence                   # state sequence flowchart tasks gantt advise\n"
          "      target: README.md                # a .md region (named like the diagram) or a .mmd file\n"
          "      region: fetch                    # optional region name for .md targets\n"
          "      # optional, as for render: title tasks exclude states max_chars\n"
          "      #   max_messages from to counts\n"
          "Paths are relative to the config file's directory. A build creates the\n"
          "folders a trace path needs. Options a view does not use are refused, as\n"
          "by render. Targets are written as by render -o (atomically, mode kept,\n"
          "symlinks followed; a target that is the trace or the config is refused).\n"
          "\n"
          "Exit status: 0 done (or nothing stale), 1 stale targets or bad input, 2 bad usage.\n",
          fp);
}

int lmr__build_main(int argc, char **argv)
{
    const char *config = "loopmaid.yaml";
    build_flags fl = {0};
    const char **only = calloc((size_t)argc + 1, sizeof *only);
    size_t nonly = 0;
    if (!only) {
        fputs("loopmaid build: out of memory\n", stderr);
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            build_usage(stdout);
            free(only);
            return 0;
        } else if (!strcmp(a, "--check")) {
            fl.check = true;
        } else if (!strcmp(a, "--diff")) {
            fl.diff = true;
        } else if (!strcmp(a, "--force")) {
            fl.force = true;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            fl.quiet = true;
        } else if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "loopmaid build: %s needs a file name\n", a);
                free(only);
                return 2;
            }
            config = argv[++i];
        } else if (!strncmp(a, "--config=", 9)) {
            config = a + 9;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "loopmaid build: unknown option '%s' (see loopmaid build --help)\n", a);
            free(only);
            return 2;
        } else {
            only[nonly++] = a;
        }
    }
    build_config c;
    lmr_error err;
    memset(&err, 0, sizeof err);
    if (load_config(config, &c, &err) != 0) {
        lmr_error_print(&err, stderr);
        free(only);
        return 1;
    }
    for (size_t k = 0; k < nonly; k++) {
        bool known = false;
        for (size_t i = 0; i < c.n; i++)
            known |= !strcmp(c.entries[i].name, only[k]);
        if (!known) {
            fprintf(stderr, "loopmaid build: no diagram named '%s' in %s\n",
                    only[k], config);
            build_config_free(&c);
            free(only);
            return 2;
        }
    }
    int status = 0;
    size_t stale = 0, written = 0, failed = 0, checked = 0;
    build_made made = {calloc(c.n + 1, sizeof(char *)), calloc(c.n + 1, sizeof(char *))};
    if (!made.path || !made.scratch) {
        fputs("loopmaid build: out of memory\n", stderr);
        free(made.path);
        free(made.scratch);
        build_config_free(&c);
        free(only);
        return 1;
    }
    for (size_t i = 0; i < c.n; i++) {
        const build_entry *e = &c.entries[i];
        bool wanted = nonly == 0;
        for (size_t k = 0; k < nonly; k++)
            wanted |= !strcmp(e->name, only[k]);
        if (!wanted)
            continue;
        int outcome;
        checked++;
        memset(&err, 0, sizeof err);
        if (build_entry_run(&c, e, &fl, &made, &outcome, &err) != 0) {
            lmr_error_print(&err, stderr);
            failed++;
            status = 1;
            continue;
        }
        if (outcome == T_CHANGED) {
            if (fl.check || fl.diff) {
                stale++;
                printf("stale: %s (%s%s%s)\n", e->target, e->name,
                       e->region ? ", region " : "", e->region ? e->region : "");
            } else {
                written++;
                if (!fl.quiet)
                    printf("wrote: %s (%s)\n", e->target, e->name);
            }
        }
    }
    /* A dry run's scratch traces go; a build's are where they belong. */
    for (size_t i = 0; i < c.n; i++)
        drop_scratch(made.path[i], made.scratch[i]);
    free(made.path);
    free(made.scratch);
    /* Counts are of what this run looked at (NAMEs limit it). */
    if ((fl.check || fl.diff) && stale > 0) {
        printf("%zu of %zu target%s stale%s: run `loopmaid build%s%s` to update\n",
               stale, checked, checked == 1 ? "" : "s",
               fl.check ? "" : " (--diff: nothing written)",
               strcmp(config, "loopmaid.yaml") ? " -c " : "",
               strcmp(config, "loopmaid.yaml") ? config : "");
        if (fl.check)
            status = 1;
    } else if (!fl.quiet && failed == 0) {
        if (fl.check || fl.diff)
            printf("%zu target%s up to date\n", checked, checked == 1 ? "" : "s");
        else if (written == 0)
            printf("nothing to do: %zu target%s up to date\n", checked,
                   checked == 1 ? "" : "s");
    }
    build_config_free(&c);
    free(only);
    return status;
}
