/*
 * tools/conformance/promises.c - the table of promises (SPEC 10), in the
 * order they are run and reported.  One row per promise:
 *
 *     {"id", "what is promised, one line", p_function, KIT_NEEDS_...},
 *
 * The id is one stable word (tests and users name a promise by it); add
 * new rows at the end so the numbers of the others stay.  `needs` lists
 * the optional capabilities the promise relies on: a plugin without one
 * has the promise skipped, never failed (see kit.h).
 */
#include "kit.h"

const kit_promise kit_promises[] = {
    {"table", "ABI, sizes, name, option declarations", p_table, 0},
    {"options", "unknown option refused naming it", p_options, 0},
    {"secrets", "a secret option's value never appears in any output", p_secret, KIT_NEEDS_SECRET},
    {"states", "the state machine: init, log, finish, a second run", p_states, 0},
    {"failures", "failing hooks return a code with a message", p_failures, 0},
    {"values", "typed values at the edges accepted", p_values, 0},
    {"alloc", "allocation failure at every point: no crash, no leak", p_alloc, 0},
    {"threads", "two instances from two threads", p_threads, 0},
    {"latency", "log latency p50/p99, p99 at most 5 ms", p_latency, 0},
    {"readback", "everything logged reads back identical", p_readback, KIT_NEEDS_READER},
    {"order", "steps read back once each, in order", p_order, KIT_NEEDS_READER},
    {"times", "start, step and end times read back exact", p_times, KIT_NEEDS_READER},
    {"status", "runs read back with the status they ended with", p_status, KIT_NEEDS_READER},
    {"name", "a run's name, given or default, reads back", p_name,
     KIT_NEEDS_READER | KIT_NEEDS_V12},
    {"annotate", "tags, a note and a new name read back", p_annotate,
     KIT_NEEDS_READER | KIT_NEEDS_V12 | KIT_NEEDS_META},
    {"delete", "a deleted run is gone and its id refused later", p_delete,
     KIT_NEEDS_READER | KIT_NEEDS_V12 | KIT_NEEDS_META},
    {"resume", "a resumed run: its attempts, each step once, latest value", p_resume,
     KIT_NEEDS_READER | KIT_NEEDS_V12},
    {"checkpoint", "a checkpoint mark reads back with size and SHA-256", p_checkpoint,
     KIT_NEEDS_READER | KIT_NEEDS_V12 | KIT_NEEDS_MARKS},
    {"system", "system samples read back exact", p_system,
     KIT_NEEDS_READER | KIT_NEEDS_V12 | KIT_NEEDS_SYSTEM},
};
const size_t kit_n_promises = sizeof kit_promises / sizeof kit_promises[0];

const char *kit_need_name(unsigned need)
{
    switch (need) {
    case KIT_NEEDS_READER:
        return "reader hooks";
    case KIT_NEEDS_SECRET:
        return "a secret option the kit can set";
    case KIT_NEEDS_V12:
        return "an ABI 1.2 table";
    case KIT_NEEDS_META:
        return "the annotate and delete_run hooks";
    case KIT_NEEDS_MARKS:
        return "the checkpoint hook";
    case KIT_NEEDS_SYSTEM:
        return "the log_system hook";
    default:
        return NULL;
    }
}
