/*
 * trace.c: the trace recorder. PLACEHOLDER: every hook does nothing until
 * the recorder lands (owned by the trace-recorder work); it exists so the
 * runtime links and can be tested meanwhile.
 */
#include "lm_internal.h"

int lm__trace_from_env(lm_loop *loop, lm__trace **out) { (void)loop; *out = NULL; return 0; }
void lm__trace_destroy(lm__trace *tr) { (void)tr; }
void lm__tr_loop_start(lm__trace *tr, lm_loop *l, int u) { (void)tr; (void)l; (void)u; }
void lm__tr_loop_end(lm__trace *tr, lm_loop *l, int u) { (void)tr; (void)l; (void)u; }
void lm__tr_spawn(lm__trace *tr, lm_loop *l, const lm_task *t) { (void)tr; (void)l; (void)t; }
void lm__tr_state(lm__trace *tr, lm_loop *l, const lm_task *t, lm_state from, lm_state to, const lm__reason *r) { (void)tr; (void)l; (void)t; (void)from; (void)to; (void)r; }
void lm__tr_note(lm__trace *tr, lm_loop *l, uint64_t task, const char *text) { (void)tr; (void)l; (void)task; (void)text; }
void lm__tr_name(lm__trace *tr, lm_loop *l, uint64_t task, const char *name) { (void)tr; (void)l; (void)task; (void)name; }
void lm__tr_group(lm__trace *tr, lm_loop *l, uint32_t group, uint8_t kind, uint64_t owner, const uint64_t *members, size_t n, int mode, lm_time timeout, const char *label) { (void)tr; (void)l; (void)group; (void)kind; (void)owner; (void)members; (void)n; (void)mode; (void)timeout; (void)label; }
void lm__tr_group_end(lm__trace *tr, lm_loop *l, uint32_t group, const char *outcome, int error) { (void)tr; (void)l; (void)group; (void)outcome; (void)error; }
void lm__tr_cancel(lm__trace *tr, lm_loop *l, uint64_t task, uint64_t by, uint8_t reason) { (void)tr; (void)l; (void)task; (void)by; (void)reason; }
void lm__tr_poll(lm__trace *tr, lm_loop *l, lm_time timeout, lm_time waited, int nready) { (void)tr; (void)l; (void)timeout; (void)waited; (void)nready; }
void lm__tr_io(lm__trace *tr, lm_loop *l, uint64_t task, int fd, int dir) { (void)tr; (void)l; (void)task; (void)fd; (void)dir; }
void lm__tr_timer(lm__trace *tr, lm_loop *l, uint64_t task) { (void)tr; (void)l; (void)task; }
void lm__tr_call(lm__trace *tr, lm_loop *l, const char *label) { (void)tr; (void)l; (void)label; }
void lm__tr_tick(lm__trace *tr, lm_loop *l, uint64_t n, uint32_t ran, uint32_t io, uint32_t timers) { (void)tr; (void)l; (void)n; (void)ran; (void)io; (void)timers; }
