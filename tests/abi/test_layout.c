/*
 * tests/abi/test_layout.c - the plugin ABI's layout, pinned at compile time.
 *
 * Every struct, enum value and constant a plugin is compiled against is
 * fixed here for ABI 1.0, so that a change to include/tropt/plugin.h or
 * common.h cannot slip in without a version bump: inserting or reordering a
 * member moves an offset below; appending one without bumping
 * TROPT_PLUGIN_ABI_MINOR breaks sizeof == TROPT_PLUGIN_MIN_SIZE; bumping the
 * minor or the major stops at an #error asking for the new members to be
 * pinned here too.  Exact byte offsets are checked on LP64 (x86_64,
 * aarch64); elsewhere the order and the pointer-size formulas are.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "abiutil.h"

#define FP sizeof(void (*)(void))
#define P sizeof(void *)
#define SA(cond) _Static_assert(cond, #cond)
#define MEMBER_SIZE(type, m) sizeof(((type *)0)->m)

/* ---- the hook table --------------------------------------------------- */

SA(offsetof(tropt_plugin, abi_version) == 0);
SA(MEMBER_SIZE(tropt_plugin, abi_version) == 4);
SA(offsetof(tropt_plugin, struct_size) == 4);
SA(MEMBER_SIZE(tropt_plugin, struct_size) == 4);
SA(TROPT_PLUGIN_MIN_SIZE == offsetof(tropt_plugin, destroy) + MEMBER_SIZE(tropt_plugin, destroy));
SA(sizeof(tropt_plugin) >= TROPT_PLUGIN_MIN_SIZE);
SA(TROPT_PLUGIN_ABI_VERSION == ((TROPT_PLUGIN_ABI_MAJOR << 16) | TROPT_PLUGIN_ABI_MINOR));
SA(TROPT_PLUGIN_ABI_MAJOR_OF(TROPT_PLUGIN_ABI_VERSION) == TROPT_PLUGIN_ABI_MAJOR);

#if TROPT_PLUGIN_ABI_MAJOR == 1

SA(offsetof(tropt_plugin, name) == 8);
SA(offsetof(tropt_plugin, description) == 8 + P);
SA(offsetof(tropt_plugin, options) == 8 + 2 * P);
SA(offsetof(tropt_plugin, create) == 8 + 3 * P);
SA(offsetof(tropt_plugin, init) == 8 + 3 * P + FP);
SA(offsetof(tropt_plugin, log) == 8 + 3 * P + 2 * FP);
SA(offsetof(tropt_plugin, finish) == 8 + 3 * P + 3 * FP);
SA(offsetof(tropt_plugin, flush) == 8 + 3 * P + 4 * FP);
SA(offsetof(tropt_plugin, destroy) == 8 + 3 * P + 5 * FP);
SA(TROPT_PLUGIN_MIN_SIZE == 8 + 3 * P + 6 * FP);

/* ABI 1.1 appends exactly the four reader hooks after destroy. */
SA(offsetof(tropt_plugin, reader_open) == TROPT_PLUGIN_MIN_SIZE);
SA(offsetof(tropt_plugin, list_runs) == TROPT_PLUGIN_MIN_SIZE + FP);
SA(offsetof(tropt_plugin, read_run) == TROPT_PLUGIN_MIN_SIZE + 2 * FP);
SA(offsetof(tropt_plugin, reader_close) == TROPT_PLUGIN_MIN_SIZE + 3 * FP);
SA(TROPT_PLUGIN_READER_SIZE == TROPT_PLUGIN_MIN_SIZE + 4 * FP);
#if TROPT_PLUGIN_ABI_MINOR == 2
/* ABI 1.2 appends the two metadata hooks, then checkpoint and log_system. */
SA(offsetof(tropt_plugin, annotate) == TROPT_PLUGIN_READER_SIZE);
SA(offsetof(tropt_plugin, delete_run) == TROPT_PLUGIN_READER_SIZE + FP);
SA(offsetof(tropt_plugin, checkpoint) == TROPT_PLUGIN_READER_SIZE + 2 * FP);
SA(offsetof(tropt_plugin, log_system) == TROPT_PLUGIN_READER_SIZE + 3 * FP);
SA(TROPT_PLUGIN_V12_SIZE == TROPT_PLUGIN_READER_SIZE + 4 * FP);
SA(sizeof(tropt_plugin) == TROPT_PLUGIN_V12_SIZE);
#else
#error "plugin ABI 1.x with x > 2: pin the members this minor appended, then extend this check"
#endif

/* ---- host services ---------------------------------------------------- */

SA(TROPT_HOST_VERSION == 4); /* 4: tropt_run carries the ABI 1.2 members */
SA(offsetof(tropt_host, version) == 0);
SA(MEMBER_SIZE(tropt_host, version) == 4);
SA(offsetof(tropt_host, struct_size) == 4);
SA(MEMBER_SIZE(tropt_host, struct_size) == 4);
SA(offsetof(tropt_host, error) == 8);
SA(offsetof(tropt_host, log) == 8 + FP);
SA(offsetof(tropt_host, malloc) == 8 + 2 * FP);
SA(offsetof(tropt_host, realloc) == 8 + 3 * FP);
SA(offsetof(tropt_host, free) == 8 + 4 * FP);
SA(offsetof(tropt_host, now) == 8 + 5 * FP);
SA(offsetof(tropt_host, format_real) == 8 + 6 * FP);
SA(TROPT_HOST_MIN_SIZE == 8 + 7 * FP);
SA(TROPT_HOST_MIN_SIZE == offsetof(tropt_host, format_real) + MEMBER_SIZE(tropt_host, format_real));
/* host version 2 appends json_real and json_value; version 1 stays the minimum */
SA(offsetof(tropt_host, json_real) == 8 + 7 * FP);
SA(offsetof(tropt_host, json_value) == 8 + 8 * FP);
SA(offsetof(tropt_host, log_from) == 8 + 9 * FP); /* host version 3 */
SA(sizeof(tropt_host) == 8 + 10 * FP);

/* ---- the other structs a plugin reads --------------------------------- */

SA(offsetof(tropt_option_def, name) == 0);
SA(offsetof(tropt_option_def, name) < offsetof(tropt_option_def, type));
SA(offsetof(tropt_option_def, type) < offsetof(tropt_option_def, flags));
SA(offsetof(tropt_option_def, flags) < offsetof(tropt_option_def, default_value));
SA(offsetof(tropt_option_def, default_value) < offsetof(tropt_option_def, choices));
SA(offsetof(tropt_option_def, choices) < offsetof(tropt_option_def, min));
SA(offsetof(tropt_option_def, min) < offsetof(tropt_option_def, max));
SA(offsetof(tropt_option_def, max) < offsetof(tropt_option_def, help));

SA(offsetof(tropt_optval, is_set) == 0);
SA(offsetof(tropt_optval, is_set) < offsetof(tropt_optval, text));
SA(offsetof(tropt_optval, text) < offsetof(tropt_optval, i));
SA(offsetof(tropt_optval, i) < offsetof(tropt_optval, d));

SA(offsetof(tropt_run, run_id) == 0);
SA(offsetof(tropt_run, experiment) == P);
SA(offsetof(tropt_run, experiment) < offsetof(tropt_run, started_at));
SA(offsetof(tropt_run, started_at) < offsetof(tropt_run, host));
SA(offsetof(tropt_run, host) < offsetof(tropt_run, pid));
/* ABI 1.2 appends to tropt_run (host version 4) ... */
SA(offsetof(tropt_run, pid) < offsetof(tropt_run, name));
SA(offsetof(tropt_run, name) < offsetof(tropt_run, attempt));
SA(offsetof(tropt_run, attempt) < offsetof(tropt_run, from_step));
SA(offsetof(tropt_run, from_step) < offsetof(tropt_run, attempt_started_at));
SA(offsetof(tropt_run, attempt_started_at) < offsetof(tropt_run, resume_key));
SA(offsetof(tropt_run, resume_key) < offsetof(tropt_run, pidns));
SA(offsetof(tropt_run, pidns) < offsetof(tropt_run, provenance));
SA(offsetof(tropt_run, provenance) < offsetof(tropt_run, given_id));
/* ... to tropt_stored_run (read from 1.2 tables) ... */
SA(offsetof(tropt_stored_run, run_id) == 0);
SA(offsetof(tropt_stored_run, n_steps) < offsetof(tropt_stored_run, name));
SA(offsetof(tropt_stored_run, name) < offsetof(tropt_stored_run, tags));
SA(offsetof(tropt_stored_run, tags) < offsetof(tropt_stored_run, n_tags));
SA(offsetof(tropt_stored_run, n_tags) < offsetof(tropt_stored_run, note));
SA(offsetof(tropt_stored_run, note) < offsetof(tropt_stored_run, attempts));
SA(offsetof(tropt_stored_run, attempts) < offsetof(tropt_stored_run, last_step));
SA(offsetof(tropt_stored_run, last_step) < offsetof(tropt_stored_run, checkpoint_step));
SA(offsetof(tropt_stored_run, checkpoint_step) < offsetof(tropt_stored_run, resume_key));
SA(offsetof(tropt_stored_run, resume_key) < offsetof(tropt_stored_run, pidns));
SA(offsetof(tropt_stored_run, pidns) < offsetof(tropt_stored_run, heartbeat_age));
SA(offsetof(tropt_stored_run, heartbeat_age) < offsetof(tropt_stored_run, stale_after));
SA(offsetof(tropt_stored_run, stale_after) < offsetof(tropt_stored_run, provenance));
/* ... and to tropt_event */
SA(offsetof(tropt_event, n) < offsetof(tropt_event, attempt));
SA(offsetof(tropt_event, attempt) < offsetof(tropt_event, attempts));
SA(offsetof(tropt_event, attempts) < offsetof(tropt_event, n_attempts));
SA(offsetof(tropt_event, n_attempts) < offsetof(tropt_event, checkpoint));
SA(offsetof(tropt_event, checkpoint) < offsetof(tropt_event, samples));
SA(offsetof(tropt_event, samples) < offsetof(tropt_event, n_samples));
SA(offsetof(tropt_event, n_samples) < offsetof(tropt_event, superseded));
SA(TROPT_EVENT_START == 1 && TROPT_EVENT_STEP == 2 && TROPT_EVENT_END == 3);
SA(TROPT_EVENT_ATTEMPT == 4 && TROPT_EVENT_CHECKPOINT == 5 && TROPT_EVENT_SYSTEM == 6);
SA(TROPT_ANNOTATE_TAG == 1 && TROPT_ANNOTATE_UNTAG == 2 && TROPT_ANNOTATE_NOTE == 3 &&
   TROPT_ANNOTATE_RENAME == 4);

SA(offsetof(tropt_field, key) == 0);
SA(offsetof(tropt_field, key) < offsetof(tropt_field, type));
SA(offsetof(tropt_field, type) < offsetof(tropt_field, v));
SA(MEMBER_SIZE(tropt_field, v.i) == 8);
SA(MEMBER_SIZE(tropt_field, v.r) == 8);

#if UINTPTR_MAX == UINT64_MAX && defined(__LP64__)
SA(TROPT_PLUGIN_MIN_SIZE == 80);     /* ABI 1.0 */
SA(TROPT_PLUGIN_READER_SIZE == 112); /* ABI 1.1: four reader hooks appended */
SA(sizeof(tropt_plugin) == 144);     /* ABI 1.2: four more hooks */
SA(sizeof(tropt_host) == 88);        /* host version 3 and 4 */
SA(offsetof(tropt_option_def, type) == 8);
SA(offsetof(tropt_option_def, flags) == 12);
SA(offsetof(tropt_option_def, default_value) == 16);
SA(offsetof(tropt_option_def, choices) == 24);
SA(offsetof(tropt_option_def, min) == 32);
SA(offsetof(tropt_option_def, max) == 40);
SA(offsetof(tropt_option_def, help) == 48);
SA(sizeof(tropt_option_def) == 56);
SA(offsetof(tropt_optval, text) == 8);
SA(offsetof(tropt_optval, i) == 16);
SA(offsetof(tropt_optval, d) == 24);
SA(sizeof(tropt_optval) == 32);
SA(offsetof(tropt_run, started_at) == 16);
SA(offsetof(tropt_run, host) == 24);
SA(offsetof(tropt_run, pid) == 32);
SA(offsetof(tropt_run, name) == 40); /* ABI 1.2 from here */
SA(offsetof(tropt_run, attempt) == 48);
SA(offsetof(tropt_run, from_step) == 56);
SA(offsetof(tropt_run, attempt_started_at) == 64);
SA(offsetof(tropt_run, resume_key) == 72);
SA(offsetof(tropt_run, pidns) == 80);
SA(offsetof(tropt_run, provenance) == 88);
SA(offsetof(tropt_run, given_id) == 96);
SA(sizeof(tropt_run) == 104);
SA(offsetof(tropt_stored_run, n_steps) == 56);
SA(offsetof(tropt_stored_run, name) == 64); /* ABI 1.2 from here */
SA(sizeof(tropt_stored_run) == 160);
SA(offsetof(tropt_event, n) == 72);
SA(offsetof(tropt_event, attempt) == 80); /* ABI 1.2 from here */
SA(sizeof(tropt_event) == 136);
SA(sizeof(tropt_provenance) == 32);
SA(sizeof(tropt_checkpoint) == 64);
SA(sizeof(tropt_sample) == 24);
SA(sizeof(tropt_attempt) == 56);
SA(sizeof(tropt_annotation) == 24);
SA(offsetof(tropt_field, type) == 8);
SA(offsetof(tropt_field, v) == 16);
SA(sizeof(tropt_field) == 24);
SA(sizeof(tropt_opt_type) == 4);
SA(sizeof(tropt_type) == 4);
SA(sizeof(tropt_level) == 4);
#endif

/* ---- values that cross the boundary ----------------------------------- */

SA(TROPT_OK == 0);
SA(TROPT_EINVAL == -1);
SA(TROPT_ENOTFOUND == -2);
SA(TROPT_EPLUGIN == -3);
SA(TROPT_ESTATE == -4);
SA(TROPT_EBACKEND == -5);
SA(TROPT_ENOMEM == -6);

SA(TROPT_NULL == 0);
SA(TROPT_BOOL == 1);
SA(TROPT_INT == 2);
SA(TROPT_REAL == 3);
SA(TROPT_STRING == 4);
SA(TROPT_JSON == 5);

SA(TROPT_OPT_STRING == 0);
SA(TROPT_OPT_PATH == 1);
SA(TROPT_OPT_INT == 2);
SA(TROPT_OPT_DOUBLE == 3);
SA(TROPT_OPT_BOOL == 4);
SA(TROPT_OPT_DURATION == 5);
SA(TROPT_OPT_ENUM == 6);
SA(TROPT_OPT_SECRET == 0x1u);
SA(TROPT_OPT_HAS_RANGE == 0x2u);
SA(TROPT_OPT_REQUIRED == 0x4u);

SA(TROPT_LEVEL_DEBUG == 0);
SA(TROPT_LEVEL_INFO == 1);
SA(TROPT_LEVEL_WARNING == 2);
SA(TROPT_LEVEL_ERROR == 3);
SA(TROPT_LEVEL_OFF == 4);

#else
#error "new plugin ABI major: pin its layout here (and keep the checks of the old one's loader)"
#endif

/* ---- at run time: what a built plugin and the host agree on ----------- */

START_TEST(shipped_null_table_matches_this_header)
{
    tropt_tracker *t = NULL;
    ck_assert_int_eq(tropt_tracker_open(&t, "null", NULL, NULL), TROPT_OK);
    const tropt_plugin *p = NULL;
    ck_assert_int_eq(tropt_tracker_backend(t, 0, &p, NULL, NULL, NULL), TROPT_OK);
    ck_assert_uint_eq(p->abi_version, TROPT_PLUGIN_ABI_VERSION);
    ck_assert_uint_eq(p->struct_size, sizeof(tropt_plugin));
    ck_assert_str_eq(p->name, "null");
    tropt_tracker_free(t);
}
END_TEST

START_TEST(error_names_follow_the_table)
{
#define CHECK_NAME(name, value, desc) ck_assert_str_eq(tropt_error_name(value), "TROPT_" #name);
    TROPT_ERROR_TABLE(CHECK_NAME)
#undef CHECK_NAME
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("abi-layout");
    TCase *tc = tcase_create("layout");
    tcase_add_test(tc, shipped_null_table_matches_this_header);
    tcase_add_test(tc, error_names_follow_the_table);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
