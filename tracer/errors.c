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
    /* The trace format's spellings (tracer/lm_vocab.h), in lm_state's order. */
    static const char *const names[] = {
#define LM__STATE_NAME(id, text) text,
        LM_VOCAB_STATES(LM__STATE_NAME)
#undef LM__STATE_NAME
    };
    _Static_assert(sizeof names / sizeof names[0] == LM_STATE_CANCELLED + 1,
                   "lm_vocab.h's states are lm_state's");
    if ((unsigned)s < sizeof names / sizeof names[0])
        return names[s];
    return "unknown";
}
