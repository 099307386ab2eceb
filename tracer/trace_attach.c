/*
 * trace_attach.c: lm__loop_set_trace, which needs the loop's private struct.
 * It belongs with loop.c; it is defined weak here so the tracing API works
 * before loop.c provides it, and loop.c's own definition wins once it does.
 */
#include "lm_runtime.h"

__attribute__((weak)) void lm__loop_set_trace(lm_loop *loop, lm__trace *tr)
{
    loop->trace = tr;
}
