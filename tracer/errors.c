/*
 * errors.c: the texts of the error table and of the task states.
 *
 * Both switch statements are generated from LM_ERRNO_MAP, the same table that
 * makes the lm_errno enum, so a new code cannot miss its name or its text.
 * Everything returned is static storage: the caller never frees it.
 */
#include "lm_internal.h"

const char *lm_strerror(int err)
{
    switch (err) {
    case LM_OK:
        return "success";
#define LM__ERR_TEXT(name, val, text)                                          \
    case (val):                                                                \
        return (text);
        LM_ERRNO_MAP(LM__ERR_TEXT)
#undef LM__ERR_TEXT
    default:
        /* Any code beyond LM_EUSER belongs to the application. */
        return err < LM_EUSER ? "application error" : "unknown error";
    }
}

const char *lm_err_name(int err)
{
    switch (err) {
    case LM_OK:
        return "LM_OK";
#define LM__ERR_NAME(name, val, text)                                          \
    case (val):                                                                \
        return "LM_" #name;
        LM_ERRNO_MAP(LM__ERR_NAME)
#undef LM__ERR_NAME
    default:
        return err < LM_EUSER ? "LM_EUSER" : "LM_EUNKNOWN";
    }
}

const char *lm_state_name(lm_state s)
{
    /* The spellings are the trace format's (docs/trace-format.md). */
    switch (s) {
    case LM_STATE_CREATED:
        return "created";
    case LM_STATE_PENDING:
        return "pending";
    case LM_STATE_RUNNING:
        return "running";
    case LM_STATE_AWAITING:
        return "awaiting";
    case LM_STATE_DONE:
        return "done";
    case LM_STATE_FAILED:
        return "failed";
    case LM_STATE_CANCELLED:
        return "cancelled";
    }
    return "unknown";
}
