/*
 * errors.c: error codes and messages, options defaults, view names.
 * (lmr_buf_free lives in out.c with the rest of lmr_buf.)
 *
 * Small shared helpers of the render half. Every error the library reports
 * goes through lmr__err so that the text, the position and the code always
 * travel together, and lmr_error_print is the one place that formats them
 * (`file:line:col: message`), as compilers do, so editors can jump to it.
 */
#include "lmr_internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *lmr_strerror(int code)
{
    switch (code) {
    case LMR_OK:
        return "success";
#define LMR__ERRNO_CASE(name, val, text)                                       \
    case LMR_##name:                                                           \
        return text;
        LMR_ERRNO_MAP(LMR__ERRNO_CASE)
#undef LMR__ERRNO_CASE
    default:
        return "unknown error";
    }
}

void lmr_error_print(const lmr_error *e, FILE *fp)
{
    const char *msg = e->msg[0] ? e->msg : lmr_strerror(e->code);
    const char *file = e->file[0] ? e->file : "loopmaid";
    if (e->line > 0)
        fprintf(fp, "%s:%d:%d: %s\n", file, e->line, e->col > 0 ? e->col : 1,
                msg);
    else
        fprintf(fp, "%s: %s\n", file, msg);
}

int lmr__err(lmr_error *e, int code, const char *file, int line, int col,
             const char *fmt, ...)
{
    if (!e)
        return code;
    e->code = code;
    e->line = line;
    e->col = col;
    /* Truncation of an overlong file name is harmless: it is only shown. */
    snprintf(e->file, sizeof e->file, "%s", file ? file : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

void lmr_options_init(lmr_options *o)
{
    memset(o, 0, sizeof *o);
    o->view = LMR_VIEW_STATE;
    o->format = LMR_FORMAT_MMD;
    o->max_chars = 50000;
    o->from = 0;
    o->to = -1;
}

static const char *const view_names[LMR_VIEW__COUNT] = {
    [LMR_VIEW_STATE] = "state",         [LMR_VIEW_SEQUENCE] = "sequence",
    [LMR_VIEW_FLOWCHART] = "flowchart", [LMR_VIEW_TASKS] = "tasks",
    [LMR_VIEW_GANTT] = "gantt",         [LMR_VIEW_ADVISE] = "advise",
};

const char *lmr_view_name(lmr_view v)
{
    if ((unsigned)v >= LMR_VIEW__COUNT)
        return NULL;
    return view_names[v];
}

int lmr_view_parse(const char *name)
{
    if (!name)
        return -1;
    for (int v = 0; v < LMR_VIEW__COUNT; v++)
        if (strcmp(view_names[v], name) == 0)
            return v;
    return -1;
}
