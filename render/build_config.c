/*
 * build_config.c: the config of `loopmaid build` (loopmaid.yaml): loads it
 * with libyaml's document API (a config is small: at most 1 MiB and 1000
 * diagrams), validates every key where it is written (errors are
 * CONFIG:LINE:COL), resolves paths against the config's directory, and
 * checks each option against the view table render uses (cli.c).
 */
#include "build.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <yaml.h>

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char *lmr__build_strdup(const char *s)
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
        return lmr__build_strdup(path);
    return lmr__path_join(dir, path);
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

void lmr__build_config_free(build_config *c)
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
int lmr__build_slurp(const char *path, size_t max, char **out, size_t *len)
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

/* The cap a config key names (max_nodes ...), or NULL. */
static const lmr__cap_opt *cap_of(const char *key)
{
    for (size_t i = 0; i < LMR__NCAPS; i++)
        if (!strcmp(key, lmr__caps[i].key))
            return &lmr__caps[i];
    return NULL;
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
    *dst = lmr__build_strdup(node_str(v));
    return *dst ? 0 : LMR_ENOMEM;
}

/* Config keys of the options only some views use, by LMR__OPT_* bit. */
static const char *const opt_key[LMR__OPT__COUNT] = {
    "tasks", "exclude", "from", "to", "states", "counts", "max_messages",
    "max_nodes", "max_children", "max_groups", "max_members", "max_causes",
    "max_rows", "max_participants"};

/* A libyaml mark (0-based) as the 1-based position errors and build use. */
static build_pos pos_of(yaml_mark_t m)
{
    return (build_pos){(int)m.line + 1, (int)m.column + 1};
}

/*
 * One diagram's mapping while it loads: the keys write into e as they come,
 * except the three whose meaning depends on others (trace and target are
 * resolved against the config's directory, region needs a Markdown target),
 * which are kept as nodes until every key has been read.
 */
typedef struct entry_load {
    const build_config *c;
    const char *f;          /* the config's path, for errors */
    yaml_node_t *map;
    build_entry *e;
    lmr_error *err;
    yaml_node_t *trace, *target, *region;
    bool have_view;
} entry_load;

static int oom(const entry_load *l)
{
    return lmr__err(l->err, LMR_ENOMEM, l->f, 0, 0, "out of memory");
}

/* Each key's parser gets the key's and the value's nodes (both scalars) and
 * returns 0, or an error it has already put in l->err. */
typedef int (*key_fn)(entry_load *l, const char *key, yaml_node_t *k,
                      yaml_node_t *v);

static int keep_str(entry_load *l, char **dst, yaml_node_t *v)
{
    return set_str(dst, v) != 0 ? oom(l) : 0;
}

/* ---- where the diagram comes from and goes to ---------------------------- */

static int key_name(entry_load *l, const char *key, yaml_node_t *k,
                    yaml_node_t *v)
{
    return keep_str(l, &l->e->name, v);
}

static int key_title(entry_load *l, const char *key, yaml_node_t *k,
                     yaml_node_t *v)
{
    return keep_str(l, &l->e->title, v);
}

static int key_trace(entry_load *l, const char *key, yaml_node_t *k,
                     yaml_node_t *v)
{
    l->trace = v;
    return 0;
}

static int key_target(entry_load *l, const char *key, yaml_node_t *k,
                      yaml_node_t *v)
{
    l->target = v;
    return 0;
}

static int key_region(entry_load *l, const char *key, yaml_node_t *k,
                      yaml_node_t *v)
{
    l->region = v;
    return 0;
}

static int key_run(entry_load *l, const char *key, yaml_node_t *k,
                   yaml_node_t *v)
{
    int rc = keep_str(l, &l->e->run, v);
    l->e->run_pos = pos_of(v->start_mark);
    return rc;
}

static int key_timeout(entry_load *l, const char *key, yaml_node_t *k,
                       yaml_node_t *v)
{
    const char *val = node_str(v);
    if (!lmr__parse_time(val, &l->e->timeout) || l->e->timeout <= 0)
        return cfg_err(l->err, l->f, v->start_mark,
                       "'timeout' must be a time above zero like 500ms, 10s or 90s, not '%s'",
                       val);
    return 0;
}

static int key_view(entry_load *l, const char *key, yaml_node_t *k,
                    yaml_node_t *v)
{
    const char *val = node_str(v);
    int vw = lmr_view_parse(val);
    if (vw < 0)
        return cfg_err(l->err, l->f, v->start_mark,
                       "unknown view '%s' (state, sequence, flowchart, tasks, gantt, advise)",
                       val);
    l->e->opts.view = (lmr_view)vw;
    l->have_view = true;
    return 0;
}

/* 'format' is refused by name: a user who writes it wants something the
 * target already decides, and "unknown key" would not say so. */
static int key_format(entry_load *l, const char *key, yaml_node_t *k,
                      yaml_node_t *v)
{
    return cfg_err(l->err, l->f, k->start_mark,
                   "'format' is decided by the target: a .mmd file gets Mermaid text, a Markdown region a ```mermaid block");
}

/* ---- which tasks and which stretch of time ------------------------------- */

static int key_tasks(entry_load *l, const char *key, yaml_node_t *k,
                     yaml_node_t *v)
{
    int rc = check_regex(l->f, v, l->err);
    return rc != 0 ? rc : keep_str(l, &l->e->tasks, v);
}

static int key_exclude(entry_load *l, const char *key, yaml_node_t *k,
                       yaml_node_t *v)
{
    int rc = check_regex(l->f, v, l->err);
    return rc != 0 ? rc : keep_str(l, &l->e->exclude, v);
}

static int key_states(entry_load *l, const char *key, yaml_node_t *k,
                      yaml_node_t *v)
{
    return keep_str(l, &l->e->states, v);
}

static int key_from_to(entry_load *l, const char *key, yaml_node_t *k,
                       yaml_node_t *v)
{
    const char *val = node_str(v);
    int64_t t;
    if (!lmr__parse_time(val, &t))
        return cfg_err(l->err, l->f, v->start_mark,
                       "'%s' must be a time like 1500ns, 20us, 3ms or 2s, not '%s'",
                       key, val);
    if (key[0] == 'f')
        l->e->opts.from = t;
    else
        l->e->opts.to = t;
    return 0;
}

static int key_counts(entry_load *l, const char *key, yaml_node_t *k,
                      yaml_node_t *v)
{
    const char *val = node_str(v);
    if (!parse_bool(val, &l->e->opts.counts))
        return cfg_err(l->err, l->f, v->start_mark,
                       "'counts' must be true or false, not '%s'", val);
    return 0;
}

/* ---- size limits --------------------------------------------------------- */

/* A positive whole number into *n, or the error every max_* key gives. */
static int positive(entry_load *l, const char *key, yaml_node_t *v, size_t *n)
{
    const char *val = node_str(v);
    if (!parse_size(val, n) || *n == 0)
        return cfg_err(l->err, l->f, v->start_mark,
                       "'%s' must be a positive whole number, not '%s'", key, val);
    return 0;
}

static int key_max_chars(entry_load *l, const char *key, yaml_node_t *k,
                         yaml_node_t *v)
{
    size_t n;
    int rc = positive(l, key, v, &n);
    if (rc != 0)
        return rc;
    /* The same floor as `render --max-chars`: below it the views cannot
     * fit even their header and elision note, and would write an empty
     * diagram that reports success. */
    if (n < LMR__MIN_MAX_CHARS)
        return cfg_err(l->err, l->f, v->start_mark,
                       "'max_chars' must be at least %u, not '%s'",
                       (unsigned)LMR__MIN_MAX_CHARS, node_str(v));
    l->e->opts.max_chars = n;
    return 0;
}

static int key_max_messages(entry_load *l, const char *key, yaml_node_t *k,
                            yaml_node_t *v)
{
    size_t n;
    int rc = positive(l, key, v, &n);
    if (rc == 0)
        l->e->opts.max_messages = n;
    return rc;
}

/* The other max_* keys, one per cap in lmr__caps (found by cap_of). */
static int key_cap(entry_load *l, const char *key, yaml_node_t *k,
                   yaml_node_t *v)
{
    size_t n;
    int rc = positive(l, key, v, &n);
    if (rc == 0)
        *(size_t *)((char *)&l->e->opts + cap_of(key)->offset) = n;
    return rc;
}

/* Every key a diagram may have except the caps, which come from lmr__caps.
 * A new key goes here and into the "unknown key" list of load_key. */
static const struct {
    const char *name;
    key_fn fn;
} entry_keys[] = {
    {"name", key_name},         {"trace", key_trace},
    {"run", key_run},           {"timeout", key_timeout},
    {"target", key_target},     {"region", key_region},
    {"view", key_view},         {"title", key_title},
    {"tasks", key_tasks},       {"exclude", key_exclude},
    {"states", key_states},     {"max_chars", key_max_chars},
    {"max_messages", key_max_messages},
    {"from", key_from_to},      {"to", key_from_to},
    {"counts", key_counts},     {"format", key_format},
};

/* One key: notes where a view-dependent option was given (checked against
 * the view once it is known), then hands the value to the key's parser. */
static int load_key(entry_load *l, yaml_node_t *k, yaml_node_t *v)
{
    const char *key = node_str(k);
    if (v->type != YAML_SCALAR_NODE)
        return cfg_err(l->err, l->f, v->start_mark,
                       "'%s' takes a single value, not a list or mapping", key);
    for (int b = 0; b < LMR__OPT__COUNT; b++)
        if (!strcmp(key, opt_key[b])) {
            l->e->given |= 1u << b;
            l->e->given_pos[b] = pos_of(k->start_mark);
        }
    for (size_t i = 0; i < sizeof entry_keys / sizeof entry_keys[0]; i++)
        if (!strcmp(key, entry_keys[i].name))
            return entry_keys[i].fn(l, key, k, v);
    if (!strncmp(key, "max_", 4) && cap_of(key))
        return key_cap(l, key, k, v);
    return cfg_err(l->err, l->f, k->start_mark,
                   "unknown key '%s' (name, trace, run, timeout, view, target, region, title, tasks, exclude, states, max_chars, max_messages, max_nodes, max_children, max_groups, max_members, max_causes, max_rows, max_participants, from, to, counts)",
                   key);
}

/* After every key: what a diagram cannot do without, and which options
 * its view does not take. */
static int check_entry(const entry_load *l)
{
    const build_entry *e = l->e;
    yaml_mark_t at = l->map->start_mark;
    if (!e->name)
        return cfg_err(l->err, l->f, at, "this diagram has no 'name'");
    for (const char *s = e->name; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
            return cfg_err(l->err, l->f, at,
                           "diagram name '%s' may use only letters, digits, '-', '_' and '.'",
                           e->name);
    if (!l->trace)
        return cfg_err(l->err, l->f, at, "diagram '%s' has no 'trace'", e->name);
    if (!l->target)
        return cfg_err(l->err, l->f, at, "diagram '%s' has no 'target'", e->name);
    if (!l->have_view)
        return cfg_err(l->err, l->f, at, "diagram '%s' has no 'view'", e->name);
    /* The same table as `render` (cli.c): an option the view does not use
     * is refused where it is written, not accepted and ignored. */
    if (lmr__view_refuses(e->opts.view, e->given))
        for (int b = 0; b < LMR__OPT__COUNT; b++)
            if ((e->given & (1u << b)) && lmr__view_refuses(e->opts.view, 1u << b))
                return lmr__err(l->err, LMR_ECONFIG, l->f, e->given_pos[b].line,
                                e->given_pos[b].col,
                                "'%s' is not used by the %s view; leave it out",
                                opt_key[b], lmr_view_name(e->opts.view));
    if (e->timeout && !e->run)
        return cfg_err(l->err, l->f, at,
                       "diagram '%s' has a 'timeout' but no 'run' command", e->name);
    return 0;
}

/* Resolves trace and target against the config's directory, and picks the
 * Markdown region: the one given, or the diagram's name. */
static int place_entry(entry_load *l)
{
    build_entry *e = l->e;
    e->trace = build_resolve(l->c->dir, node_str(l->trace));
    e->target = build_resolve(l->c->dir, node_str(l->target));
    if (!e->trace || !e->target)
        return oom(l);
    e->trace_pos = pos_of(l->trace->start_mark);
    e->target_pos = pos_of(l->target->start_mark);
    size_t tl = strlen(e->target);
    bool is_md = tl >= 3 && (!strcmp(e->target + tl - 3, ".md") ||
                             (tl >= 9 && !strcmp(e->target + tl - 9, ".markdown")));
    if (l->region) {
        if (!is_md)
            return cfg_err(l->err, l->f, l->region->start_mark,
                           "'region' needs a Markdown target (.md), and '%s' is not one",
                           node_str(l->target));
        if (set_str(&e->region, l->region) != 0)
            return oom(l);
        e->region_pos = pos_of(l->region->start_mark);
    } else if (is_md) {
        /* A Markdown target without a region uses the diagram's name. */
        e->region = lmr__build_strdup(e->name);
        e->region_pos = e->pos;
        if (!e->region)
            return oom(l);
    }
    return 0;
}

/* Loads one diagram's mapping into e (which the caller frees, even after an
 * error): every key, then the checks that need them all, then the paths. */
static int load_entry(build_config *c, yaml_document_t *doc, yaml_node_t *map,
                      build_entry *e, lmr_error *err)
{
    entry_load l = {.c = c, .f = c->path, .map = map, .e = e, .err = err};
    lmr_options_init(&e->opts);
    e->pos = pos_of(map->start_mark);
    if (map->type != YAML_MAPPING_NODE)
        return cfg_err(err, l.f, map->start_mark,
                       "a diagram must be a mapping (name:, trace:, view:, target:)");
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        yaml_node_t *v = yaml_document_get_node(doc, p->value);
        if (!k || !v || k->type != YAML_SCALAR_NODE)
            return cfg_err(err, l.f, k ? k->start_mark : map->start_mark,
                           "keys must be plain words");
        int rc = load_key(&l, k, v);
        if (rc != 0)
            return rc;
    }
    int rc = check_entry(&l);
    if (rc == 0)
        rc = place_entry(&l);
    if (rc != 0)
        return rc;
    e->opts.title = e->title;
    e->opts.tasks = e->tasks;
    e->opts.exclude = e->exclude;
    e->opts.states = e->states;
    return 0;
}

/* Entry paths are relative to the config's folder: c->dir. */
static int set_config_dir(build_config *c, const char *path, lmr_error *err)
{
    const char *slash = strrchr(path, '/');
    c->dir = slash ? strndup(path, (size_t)(slash - path)) : lmr__build_strdup(".");
    if (!c->dir)
        return lmr__err(err, LMR_ENOMEM, path, 0, 0, "out of memory");
    if (c->dir[0] == '\0') {
        free(c->dir);
        c->dir = lmr__build_strdup("/");
    }
    return 0;
}

/* Checks the top level (version: 1, diagrams:, nothing else) and finds the
 * diagrams list. */
static int find_diagrams(yaml_document_t *doc, const char *path,
                         yaml_node_t **out, lmr_error *err)
{
    yaml_node_t *root = yaml_document_get_root_node(doc);
    yaml_node_t *diagrams = NULL;
    if (!root)
        return lmr__err(err, LMR_ECONFIG, path, 1, 1,
                        "config is empty: it needs a 'diagrams:' list");
    if (root->type != YAML_MAPPING_NODE)
        return cfg_err(err, path, root->start_mark,
                       "config must be a mapping with 'version: 1' and 'diagrams:'");
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
         p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        yaml_node_t *v = yaml_document_get_node(doc, p->value);
        if (!k || k->type != YAML_SCALAR_NODE || !v)
            return cfg_err(err, path, root->start_mark, "keys must be plain words");
        if (!strcmp(node_str(k), "version")) {
            if (v->type != YAML_SCALAR_NODE || strcmp(node_str(v), "1") != 0)
                return cfg_err(err, path, v->start_mark,
                               "unsupported config version (this loopmaid knows version 1)");
        } else if (!strcmp(node_str(k), "diagrams")) {
            diagrams = v;
        } else {
            return cfg_err(err, path, k->start_mark,
                           "unknown key '%s' (version, diagrams)", node_str(k));
        }
    }
    if (!diagrams)
        return cfg_err(err, path, root->start_mark, "config has no 'diagrams:' list");
    if (diagrams->type != YAML_SEQUENCE_NODE)
        return cfg_err(err, path, diagrams->start_mark,
                       "'diagrams' must be a list of diagrams");
    *out = diagrams;
    return 0;
}

/* Loads each item of the diagrams list into c->entries; names are unique. */
static int load_entries(build_config *c, yaml_document_t *doc,
                        yaml_node_t *diagrams, lmr_error *err)
{
    const char *path = c->path;
    size_t n = (size_t)(diagrams->data.sequence.items.top -
                        diagrams->data.sequence.items.start);
    if (n > BUILD_MAX_ENTRIES)
        return cfg_err(err, path, diagrams->start_mark,
                       "too many diagrams (%zu; the limit is %d)", n, BUILD_MAX_ENTRIES);
    c->entries = calloc(n ? n : 1, sizeof *c->entries);
    if (!c->entries)
        return lmr__err(err, LMR_ENOMEM, path, 0, 0, "out of memory");
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item =
            yaml_document_get_node(doc, diagrams->data.sequence.items.start[i]);
        c->n = i + 1;
        int rc = load_entry(c, doc, item, &c->entries[i], err);
        if (rc != 0)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(c->entries[j].name, c->entries[i].name))
                return cfg_err(err, path, item->start_mark,
                               "diagram name '%s' is used twice (first at line %d)",
                               c->entries[i].name, c->entries[j].pos.line);
    }
    return 0;
}

int lmr__build_load_config(const char *path, build_config *c, lmr_error *err)
{
    memset(c, 0, sizeof *c);
    c->path = (char *)path;
    int rc = set_config_dir(c, path, err);
    if (rc != 0)
        return rc;
    char *text;
    size_t len;
    rc = lmr__build_slurp(path, BUILD_MAX_CONFIG, &text, &len);
    /* Every early return frees c->dir too (found by fuzz/fuzz_config.c). */
    if (rc == -EFBIG) {
        lmr__build_config_free(c);
        return lmr__err(err, LMR_ECONFIG, path, 0, 0,
                        "config is larger than %u bytes", BUILD_MAX_CONFIG);
    }
    if (rc != 0) {
        lmr__build_config_free(c);
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
        lmr__build_config_free(c);
        return rc;
    }
    yaml_node_t *diagrams = NULL;
    rc = find_diagrams(&doc, path, &diagrams, err);
    if (rc == 0)
        rc = load_entries(c, &doc, diagrams, err);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    free(text);
    if (rc != 0)
        lmr__build_config_free(c);
    return rc;
}

int lmr__build_check_config(const char *path, lmr_error *err)
{
    build_config c;
    int rc = lmr__build_load_config(path, &c, err);
    if (rc == 0)
        lmr__build_config_free(&c);
    return rc;
}

