/*
 * lm_vocab.h: the trace format's vocabulary, once, for both halves.
 *
 * Every word a trace line can hold that is not free text (event kinds, keys,
 * task states and the token sets of docs/trace-format.md section 4) is
 * spelled here and nowhere else. The tracer makes its enums and the spellings
 * it prints from these lists (tracer/lm_internal.h, lm_trace.h,
 * trace_fmt.c); the reader makes its enums and decodes each token to one of
 * them once (render/lmr_internal.h, vocab.c, reader.c), so the views switch
 * on numbers and never compare strings. tests/test_vocab.c checks section 4
 * of the document against these lists, in both directions.
 *
 * Each list is an X-macro: LM_VOCAB_ON(X) expands X(ID, "spelling") per
 * token. The order is part of the contract where a comment says so (a
 * tracer enum's numbering, which the record stores). Only macros: including
 * this costs nothing and drags in no header; never installed.
 *
 * "closed" sets only grow with a new major version of the format (a reader
 * rejects what it does not know); "open" sets may grow in v1 (a reader keeps
 * an unknown token as written).
 */
#ifndef LM_VOCAB_H
#define LM_VOCAB_H

/* Event kinds (`ev:`), closed for what a reader must understand, but a
 * reader skips kinds it does not know. The order is the record kinds' of
 * tracer/lm_trace.h (from 1) and the reader's lmr__ev_kind (from 1). */
#define LM_VOCAB_EVENTS(X)                                                     \
    X(LOOP_START, "loop_start")                                                \
    X(LOOP_END, "loop_end")                                                    \
    X(SPAWN, "spawn")                                                          \
    X(STATE, "state")                                                          \
    X(NOTE, "note")                                                            \
    X(NAME, "name")                                                            \
    X(GROUP, "group")                                                          \
    X(GROUP_END, "group_end")                                                  \
    X(CANCEL, "cancel")                                                        \
    X(POLL, "poll")                                                            \
    X(IO, "io")                                                                \
    X(TIMER, "timer")                                                          \
    X(CALL, "call")                                                            \
    X(TICK, "tick")                                                            \
    X(GAP, "gap")

/* The keys of an event line (section 3). The reader tries them in this
 * order, so the ones on every line come first. */
#define LM_VOCAB_KEYS(X)                                                       \
    X(T, "t")                                                                  \
    X(EV, "ev")                                                                \
    X(LOOP, "loop")                                                            \
    X(TASK, "task")                                                            \
    X(PARENT, "parent")                                                        \
    X(NAME, "name")                                                            \
    X(FROM, "from")                                                            \
    X(TO, "to")                                                                \
    X(ON, "on")                                                                \
    X(FD, "fd")                                                                \
    X(DIR, "dir")                                                              \
    X(AWAITS, "awaits")                                                        \
    X(GROUP, "group")                                                          \
    X(BY, "by")                                                                \
    X(BY_TASK, "by_task")                                                      \
    X(ERROR, "error")                                                          \
    X(CODE, "code")                                                            \
    X(MESSAGE, "message")                                                      \
    X(LABEL, "label")                                                          \
    X(TEXT, "text")                                                            \
    X(KIND, "kind")                                                            \
    X(OWNER, "owner")                                                          \
    X(MEMBERS, "members")                                                      \
    X(MODE, "mode")                                                            \
    X(TIMEOUT, "timeout")                                                      \
    X(OUTCOME, "outcome")                                                      \
    X(REASON, "reason")                                                        \
    X(WAITED, "waited")                                                        \
    X(READY, "ready")                                                          \
    X(N, "n")                                                                  \
    X(RAN, "ran")                                                              \
    X(IO, "io")                                                                \
    X(TIMERS, "timers")                                                        \
    X(DROPPED, "dropped")

/* 4.1 task states (closed), in lm_state's order (from 0). */
#define LM_VOCAB_STATES(X)                                                     \
    X(CREATED, "created")                                                      \
    X(PENDING, "pending")                                                      \
    X(RUNNING, "running")                                                      \
    X(AWAITING, "awaiting")                                                    \
    X(DONE, "done")                                                            \
    X(FAILED, "failed")                                                        \
    X(CANCELLED, "cancelled")

/* 4.2 `on`: what an awaiting task awaits (open). lm__on numbers them from 1
 * in this order (0: none). */
#define LM_VOCAB_ON(X)                                                         \
    X(SLEEP, "sleep")                                                          \
    X(IO, "io")                                                                \
    X(TASK, "task")                                                            \
    X(GATHER, "gather")                                                        \
    X(WAIT, "wait")                                                            \
    X(TASKGROUP, "taskgroup")                                                  \
    X(WAIT_FOR, "wait_for")                                                    \
    X(FUTURE, "future")                                                        \
    X(EVENT, "event")                                                          \
    X(QUEUE, "queue")                                                          \
    X(LOCK, "lock")                                                            \
    X(SEMAPHORE, "semaphore")                                                  \
    X(THREAD, "thread")                                                        \
    X(CONDITION, "condition")                                                  \
    X(BARRIER, "barrier")                                                      \
    X(QUEUE_JOIN, "queue_join")

/* 4.3 `by`: what made a task pending or cancelled (open). lm__by numbers
 * them from 1 in this order (0: none). */
#define LM_VOCAB_BY(X)                                                         \
    X(SPAWN, "spawn")                                                          \
    X(YIELD, "yield")                                                          \
    X(TIMER, "timer")                                                          \
    X(IO, "io")                                                                \
    X(TASK, "task")                                                            \
    X(FUTURE, "future")                                                        \
    X(EVENT, "event")                                                          \
    X(QUEUE, "queue")                                                          \
    X(LOCK, "lock")                                                            \
    X(SEMAPHORE, "semaphore")                                                  \
    X(CANCEL, "cancel")                                                        \
    X(THREAD, "thread")                                                        \
    X(TIMEOUT, "timeout")                                                      \
    X(CONDITION, "condition")                                                  \
    X(BARRIER, "barrier")                                                      \
    X(QUEUE_JOIN, "queue_join")

/* 4.4 `reason` of a cancel event (open). lm__cancel_reason numbers them
 * from 0 in this order. */
#define LM_VOCAB_REASON(X)                                                     \
    X(EXPLICIT, "explicit")                                                    \
    X(TIMEOUT, "timeout")                                                      \
    X(GROUP, "group")                                                          \
    X(SHUTDOWN, "shutdown")                                                    \
    X(SIGNAL, "signal")

/* 4.5 group `kind` (open). lm__group_kind numbers them from 0. */
#define LM_VOCAB_GROUP_KIND(X)                                                 \
    X(GATHER, "gather")                                                        \
    X(WAIT, "wait")                                                            \
    X(TASKGROUP, "taskgroup")                                                  \
    X(WAIT_FOR, "wait_for")

/* 4.5 group `mode` (open). The record stores the position + 1 in this
 * order (tracer/trace.c: gather 1, 2, 6; lm_wait_mode + 2 for wait). */
#define LM_VOCAB_MODE(X)                                                       \
    X(FAIL_FAST, "fail_fast")                                                  \
    X(RETURN_EXCEPTIONS, "return_exceptions")                                  \
    X(FIRST_COMPLETED, "first_completed")                                      \
    X(FIRST_EXCEPTION, "first_exception")                                      \
    X(ALL_COMPLETED, "all_completed")                                          \
    X(CANCEL_ON_ERROR, "cancel_on_error")

/* 4.5 `outcome` of group_end (open), numbered from 1 (0: the text as
 * recorded). */
#define LM_VOCAB_OUTCOME(X)                                                    \
    X(OK, "ok")                                                                \
    X(FAILED, "failed")                                                        \
    X(CANCELLED, "cancelled")                                                  \
    X(TIMEOUT, "timeout")

/* 4.5 `dir` (closed), numbered from 1 as the bits LM_READABLE (1) and
 * LM_WRITABLE (2) combine. */
#define LM_VOCAB_DIR(X)                                                        \
    X(READ, "read")                                                            \
    X(WRITE, "write")                                                          \
    X(READWRITE, "readwrite")

/* 4.5 the header's `clock` (closed). */
#define LM_VOCAB_CLOCK(X)                                                      \
    X(VIRTUAL, "virtual")                                                      \
    X(MONOTONIC, "monotonic")

#endif /* LM_VOCAB_H */
