/* tests/core/test_spec.c - the spec grammar and option validation, table
 * driven: every valid spec is checked for what each backend received, every
 * invalid one for its code and the words of its message. */
#include "common.h"

/* ---- valid specs: backend count and option values ---- */
typedef struct {
    const char *spec; /* "@" is replaced by the recorder's out= path option */
    size_t n_backends;
    const char *opt;  /* an option of backend 0 to check, or NULL */
    const char *text; /* its expected text */
    long long i;      /* its expected parsed .i */
} valid_case;

static const valid_case valid[] = {
    {"null", 1, NULL, NULL, 0},
    {"  null  ", 1, NULL, NULL, 0},
    {"null;null", 2, NULL, NULL, 0},
    {"null; null ;null", 3, NULL, NULL, 0},
    {"recorder:tag=hello", 1, "tag", "hello", 0},
    {"recorder: tag = spaced out ", 1, "tag", "spaced out", 0},
    {"recorder:tag=\"a,b;c\"", 1, "tag", "a,b;c", 0},
    {"recorder:tag=\"quote \\\" and backslash \\\\\"", 1, "tag", "quote \" and backslash \\", 0},
    {"recorder:tag=\"\"", 1, "tag", "", 0},
    {"recorder:tag=", 1, "tag", "", 0},
    {"recorder:tag=\"  kept  \"", 1, "tag", "  kept  ", 0},
    {"recorder:tag=x=y", 1, "tag", "x=y", 0},
    {"recorder:tag=caf\xC3\xA9", 1, "tag", "caf\xC3\xA9", 0},
    {"recorder:level=10", 1, "level", "10", 10},
    {"recorder:level=0,ratio=1", 1, "level", "0", 0},
    {"recorder", 1, "level", "3", 3},
    {"recorder:flag=yes", 1, "flag", "yes", 1},
    {"recorder:flag=OFF", 1, "flag", "OFF", 0},
    {"recorder:wait=2s", 1, "wait", "2s", 2000},
    {"recorder:wait=1m", 1, "wait", "1m", 60000},
    {"recorder:wait=1.5s", 1, "wait", "1.5s", 1500},
    {"recorder:wait=125", 1, "wait", "125", 125},
    {"recorder:wait=0ms", 1, "wait", "0ms", 0},
    {"recorder:mode=c", 1, "mode", "c", 2},
    {"recorder:on_error=warn", 1, NULL, NULL, 0},
    {"recorder:dir=./relative/ok", 1, "dir", "./relative/ok", 0},
    {"recorder:tag=a;null", 2, "tag", "a", 0},
};

START_TEST(valid_specs)
{
    const valid_case *c = &valid[_i];
    tropt_tracker *t = NULL;
    int rc = tropt_tracker_open(&t, c->spec, NULL, NULL);
    ck_assert_msg(rc == TROPT_OK, "spec [%s]: %s", c->spec, tropt_error_message());
    ck_assert_uint_eq(tropt_tracker_backend_count(t), c->n_backends);
    if (c->opt) {
        const tropt_plugin *p;
        const tropt_optval *v;
        ck_assert_int_eq(tropt_tracker_backend(t, 0, &p, NULL, &v, NULL), TROPT_OK);
        size_t k = 0;
        while (p->options[k].name && strcmp(p->options[k].name, c->opt) != 0)
            k++;
        ck_assert_ptr_nonnull(p->options[k].name);
        ck_assert_str_eq(v[k].text, c->text);
        if (p->options[k].type != TROPT_OPT_STRING && p->options[k].type != TROPT_OPT_PATH)
            ck_assert_int_eq(v[k].i, c->i);
    }
    tropt_tracker_free(t);
}
END_TEST

/* ---- invalid specs ---- */
typedef struct {
    const char *spec;
    int code;
    const char *words; /* must appear in the message */
} invalid_case;

static const invalid_case invalid[] = {
    {"", TROPT_EINVAL, "spec: empty"},
    {"   ", TROPT_EINVAL, "spec: empty"},
    {";", TROPT_EINVAL, "column 1"},
    {"null;", TROPT_EINVAL, "remove the extra ';'"},
    {"null;;null", TROPT_EINVAL, "column 6"},
    {";null", TROPT_EINVAL, "expected a plugin name or path at column 1"},
    {"null:", TROPT_EINVAL, "expected an option key=value at column 6"},
    {"recorder:tag=a,", TROPT_EINVAL, "remove the trailing separator"},
    {"recorder:tag=a,,level=1", TROPT_EINVAL, "expected an option key=value at column 16"},
    {"recorder:tag", TROPT_EINVAL, "expected '=' after option key 'tag'"},
    {"recorder:=x", TROPT_EINVAL, "invalid character '='"},
    {"recorder:t-g=x", TROPT_EINVAL, "expected '=' after option key 't'"},
    {"recorder:tag=\"open", TROPT_EINVAL, "unterminated quoted value starting at column 14"},
    {"recorder:tag=\"a\"b", TROPT_EINVAL,
     "expected ',' or ';' after the quoted value at column 17"},
    {"recorder:tag=\"bad \\n escape\"", TROPT_EINVAL, "invalid escape '\\n'"},
    {"recorder:tag=a\"b", TROPT_EINVAL, "unexpected '\"' at column 15"},
    {"recorder:tag=a,tag=b", TROPT_EINVAL, "option 'tag' given twice"},
    {"null,x=1", TROPT_EINVAL, "expected ':' before the options of 'null'"},
    {"bad name", TROPT_EINVAL, "invalid plugin name 'bad name'"},
    {"..", TROPT_EINVAL, "invalid plugin name '..'"},
    {"nu.ll", TROPT_EINVAL, "invalid plugin name 'nu.ll'"},
    {"no_such_plugin", TROPT_ENOTFOUND, "no plugin 'no_such_plugin'"},
    {"./no/such/file.so", TROPT_ENOTFOUND, "./no/such/file.so"},
    {"null:x=1", TROPT_EINVAL,
     "null: unknown option 'x' (valid options: on_error, resume, resume_key, sys)"},
    {"recorder:colour=red", TROPT_EINVAL,
     "unknown option 'colour' (valid options: out, tag, level, ratio, flag, wait, mode, "
     "secret_level, dir, fail, fail_times, fail_code, fail_silent, on_error, resume, resume_key, "
     "sys)"},
    {"null:resume=sometimes", TROPT_EINVAL,
     "null: option resume=sometimes: expected one of never|allow|must"},
    {"null:sys=10ms", TROPT_EINVAL, "null: option sys=10ms: "},
    {"null:sys=often", TROPT_EINVAL, "expected a duration such as 250ms, 2s or 1m"},
    {"null:resume_key=\"a\tb\"", TROPT_EINVAL,
     "null: option resume_key: holds a control character"},
    {"null:resume=allow;null:resume=must", TROPT_EINVAL,
     "null: option resume differs from the value an earlier backend of the spec gave"},
    {"null:sys=1s;null:sys=2s", TROPT_EINVAL, "option sys differs"},
    {"recorder:level=abc", TROPT_EINVAL, "option level=abc: expected a 64-bit integer"},
    {"recorder:level=1.5", TROPT_EINVAL, "expected a 64-bit integer"},
    {"recorder:level=99999999999999999999", TROPT_EINVAL, "expected a 64-bit integer"},
    {"recorder:level=11", TROPT_EINVAL, "level=11: out of range [0, 10]"},
    {"recorder:level=-1", TROPT_EINVAL, "out of range [0, 10]"},
    {"recorder:level=", TROPT_EINVAL, "expected a 64-bit integer"},
    {"recorder:ratio=1.01", TROPT_EINVAL, "ratio=1.01: out of range [0, 1]"},
    {"recorder:ratio=nan", TROPT_EINVAL, "expected a finite number"},
    {"recorder:ratio=1e55", TROPT_EINVAL, "ratio=1e55: out of range [0, 1]"},
    {"recorder:ratio=1e999", TROPT_EINVAL, "expected a finite number"},
    {"recorder:flag=maybe", TROPT_EINVAL, "flag=maybe: expected true|false"},
    {"recorder:wait=5x", TROPT_EINVAL, "expected a duration such as 250ms, 2s or 1m"},
    {"recorder:wait=-1s", TROPT_EINVAL, "expected a duration"},
    {"recorder:wait=11m", TROPT_EINVAL, "wait=11m: out of range [0, 10m]"},
    {"recorder:wait=s", TROPT_EINVAL, "expected a duration"},
    {"recorder:mode=d", TROPT_EINVAL, "mode=d: expected one of a|b|c"},
    {"recorder:mode=A", TROPT_EINVAL, "expected one of a|b|c"},
    {"recorder:dir=", TROPT_EINVAL, "expected a non-empty path"},
    {"recorder:on_error=maybe", TROPT_EINVAL, "on_error=maybe: expected fail|warn"},
    {"recorder:fail=create", TROPT_EBACKEND, "recorder: injected create failure"},
    {"null;recorder:fail=create", TROPT_EBACKEND, "recorder: injected create failure"},
    /* a failed create maps to the codes tropt_tracker_open promises, and a
     * plugin that gave no message still gets one naming its code */
    {"recorder:fail=create,fail_silent=true", TROPT_EBACKEND,
     "recorder: create failed with TROPT_EBACKEND and no message"},
    {"recorder:fail=create,fail_code=-4", TROPT_EBACKEND, "recorder: injected create failure"},
    {"recorder:fail=create,fail_code=-4,fail_silent=true", TROPT_EBACKEND,
     "recorder: create failed with TROPT_ESTATE and no message"},
    {"recorder:fail=create,fail_code=7,fail_silent=true", TROPT_EBACKEND,
     "recorder: create failed with code 7 and no message"},
    {"recorder:fail=create,fail_code=-1", TROPT_EINVAL, "recorder: injected create failure"},
    {"recorder:fail=create,fail_code=-6,fail_silent=true", TROPT_ENOMEM,
     "recorder: create failed with TROPT_ENOMEM and no message"},
};

START_TEST(invalid_specs)
{
    const invalid_case *c = &invalid[_i];
    tropt_tracker *t = (tropt_tracker *)0x1;
    int rc = tropt_tracker_open(&t, c->spec, NULL, NULL);
    ck_assert_msg(rc == c->code, "spec [%s]: got %s (%s), want %s", c->spec, tropt_error_name(rc),
                  tropt_error_message(), tropt_error_name(c->code));
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(tropt_error_message(), c->words) != NULL,
                  "spec [%s]: message '%s' lacks '%s'", c->spec, tropt_error_message(), c->words);
}
END_TEST

START_TEST(secret_values_never_in_messages)
{
    static const char *specs[] = {
        "recorder:secret_level=hunter2",
        "recorder:secret_level=99999999999999999999hunter2",
    };
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        tropt_tracker *t;
        ck_assert_int_eq(tropt_tracker_open(&t, specs[i], NULL, NULL), TROPT_EINVAL);
        ck_assert_contains(tropt_error_message(), "secret_level");
        ck_assert_contains(tropt_error_message(), "value not shown");
        ck_assert_not_contains(tropt_error_message(), "hunter2");
    }
    tropt_tracker *t;
    ck_assert_int_eq(tropt_tracker_open(&t, "recorder:secret_level=77", NULL, NULL), TROPT_OK);
    const tropt_plugin *p;
    const tropt_optval *v;
    tropt_tracker_backend(t, 0, &p, NULL, &v, NULL);
    ck_assert_int_eq(v[7].i, 77);
    ck_assert_str_eq(tropt_option_display(&p->options[7], v[7].text), "<secret>");
    ck_assert_str_eq(tropt_option_display(&p->options[1], v[1].text), "t");
    tropt_tracker_free(t);
}
END_TEST

START_TEST(options_reach_create_validated)
{
    rec_fixture fx;
    rec_open(&fx, ",tag=\"x,y\",level=7,ratio=0.25,flag=on,wait=1.5s,mode=b,dir=d1", NULL, NULL);
    char *text = rec_text(&fx);
    ck_assert_contains(text, "create tag=x,y level=7 ratio=0.25 flag=1 wait=1500 mode=1 dir=d1\n");
    free(text);
    rec_close(&fx);
    /* defaults */
    rec_open(&fx, "", NULL, NULL);
    text = rec_text(&fx);
    ck_assert_contains(text, "create tag=t level=3 ratio=0.5 flag=0 wait=250 mode=0 dir=-\n");
    free(text);
    rec_close(&fx);
}
END_TEST

START_TEST(option_ranges_read_in_the_options_terms)
{
    static const tropt_option_def defs[] = {
        {"a", TROPT_OPT_INT, TROPT_OPT_HAS_RANGE, NULL, NULL, 1, 1e9, NULL},
        {"b", TROPT_OPT_INT, TROPT_OPT_HAS_RANGE, NULL, NULL, -5, 9.2e18, NULL},
        {"c", TROPT_OPT_DURATION, TROPT_OPT_HAS_RANGE, NULL, NULL, 0, 3600000, NULL},
        {"d", TROPT_OPT_DURATION, TROPT_OPT_HAS_RANGE, NULL, NULL, 1500, 2000, NULL},
        {"e", TROPT_OPT_DOUBLE, TROPT_OPT_HAS_RANGE, NULL, NULL, 0.25, 1e9, NULL},
        {"f", TROPT_OPT_INT, 0, NULL, NULL, 0, 0, NULL},
        {"g", TROPT_OPT_DURATION, TROPT_OPT_HAS_RANGE, NULL, NULL, 0.5, 90000, NULL},
    };
    static const char *want[] = {
        "[1, 1000000000]", "[-5, 9200000000000000000]",
        "[0, 60m]",        "[1500ms, 2s]",
        "[0.25, 1e+09]",   "",
        "[0.5, 90s]",
    };
    char buf[64];
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++) {
        size_t n = tropt_option_range(&defs[i], buf, sizeof buf);
        ck_assert_str_eq(buf, want[i]);
        ck_assert_uint_eq(n, strlen(want[i]));
    }
    /* truncated to fit, always terminated; NULL and empty buffers */
    char small[6];
    ck_assert_uint_eq(tropt_option_range(&defs[0], small, sizeof small), 5);
    ck_assert_str_eq(small, "[1, 1");
    ck_assert_uint_eq(tropt_option_range(NULL, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "");
    ck_assert_uint_eq(tropt_option_range(&defs[0], NULL, 0), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("spec");
    TCase *tc = tcase_create("spec");
    tcase_add_loop_test(tc, valid_specs, 0, (int)(sizeof valid / sizeof valid[0]));
    tcase_add_loop_test(tc, invalid_specs, 0, (int)(sizeof invalid / sizeof invalid[0]));
    tcase_add_test(tc, secret_values_never_in_messages);
    tcase_add_test(tc, options_reach_create_validated);
    tcase_add_test(tc, option_ranges_read_in_the_options_terms);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
