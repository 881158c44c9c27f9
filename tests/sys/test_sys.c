/*
 * tests/sys/test_sys.c - system metrics (SPEC 16, issue 32): each source on
 * fixture trees with exact expected values (cgroup v1 and v2, with and
 * without limits, a container's view, /proc/self/stat with known ticks),
 * the GPUs through a stand-in libnvidia-ml.so.1 (devices named by index and
 * by UUID, an unsupported field, a call that hangs), and a live run on this
 * machine read back through a backend.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../core/internal.h"
#include "../../core/sys/sys_priv.h"
#include "testutil.h"

/* ---- fixture trees ------------------------------------------------------ */

/* Write <root>/<rel>, making its folders. */
static void put(const char *root, const char *rel, const char *text)
{
    char *path = tu_strdupf("%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    ck_assert_msg(tu_write_file(path, text) == 0, "cannot write %s", path);
    free(path);
}

static void expect(double got, double want, const char *what)
{
    ck_assert_msg(got == want, "%s: got %.17g, want %.17g", what, got, want);
}

START_TEST(cgroup_v1_with_limits)
{
    char *root = tu_mkdtemp();
    put(root, "proc/self/cgroup",
        "9:name=systemd:/job1\n4:memory:/job1\n3:cpu,cpuacct:/job1\n2:cpuset:/\n0::/\n");
    put(root, "sys/fs/cgroup/memory/job1/memory.usage_in_bytes", "1048576\n");
    put(root, "sys/fs/cgroup/memory/job1/memory.limit_in_bytes", "2147483648\n");
    put(root, "sys/fs/cgroup/cpu,cpuacct/job1/cpuacct.usage", "5000000000\n");
    put(root, "sys/fs/cgroup/cpu,cpuacct/job1/cpu.cfs_quota_us", "150000\n");
    put(root, "sys/fs/cgroup/cpu,cpuacct/job1/cpu.cfs_period_us", "100000\n");
    sys_cgroup cg;
    sys_cgroup_find(root, &cg);
    ck_assert_int_eq(cg.version, 1);
    sys_cgroup_read r;
    sys_cgroup_sample(&cg, &r);
    expect(r.mem, 1048576, "mem");
    expect(r.mem_limit, 2147483648.0, "mem limit");
    expect(r.cpu_s, 5.0, "cpu seconds");
    expect(r.cpu_limit, 1.5, "cpu limit");
    tu_rmtree(root);
    free(root);
}
END_TEST

/* This machine's values for "no limit": 9223372036854771712 and -1. */
START_TEST(cgroup_v1_without_limits_separate_hierarchies)
{
    char *root = tu_mkdtemp();
    put(root, "proc/self/cgroup", "4:memory:/a/b\n2:cpuacct:/\n1:cpu:/\n0::/\n");
    put(root, "sys/fs/cgroup/memory/a/b/memory.usage_in_bytes", "3831640064\n");
    put(root, "sys/fs/cgroup/memory/a/b/memory.limit_in_bytes", "9223372036854771712\n");
    put(root, "sys/fs/cgroup/cpuacct/cpuacct.usage", "16107806779476\n");
    put(root, "sys/fs/cgroup/cpu/cpu.cfs_quota_us", "-1\n");
    put(root, "sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n");
    sys_cgroup cg;
    sys_cgroup_find(root, &cg);
    sys_cgroup_read r;
    sys_cgroup_sample(&cg, &r);
    expect(r.mem, 3831640064.0, "mem");
    expect(r.mem_limit, -1, "no memory limit");
    expect(r.cpu_s, 16107.806779476, "cpu seconds");
    expect(r.cpu_limit, -1, "no cpu limit");
    tu_rmtree(root);
    free(root);
}
END_TEST

START_TEST(cgroup_v2_with_and_without_limits)
{
    char *root = tu_mkdtemp();
    put(root, "proc/self/cgroup", "0::/user.slice/job2\n");
    put(root, "sys/fs/cgroup/cgroup.controllers", "cpu memory\n");
    put(root, "sys/fs/cgroup/user.slice/job2/cgroup.controllers", "cpu memory\n");
    put(root, "sys/fs/cgroup/user.slice/job2/memory.current", "4096\n");
    put(root, "sys/fs/cgroup/user.slice/job2/memory.max", "8192\n");
    put(root, "sys/fs/cgroup/user.slice/job2/cpu.stat",
        "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n");
    put(root, "sys/fs/cgroup/user.slice/job2/cpu.max", "200000 100000\n");
    sys_cgroup cg;
    sys_cgroup_find(root, &cg);
    ck_assert_int_eq(cg.version, 2);
    sys_cgroup_read r;
    sys_cgroup_sample(&cg, &r);
    expect(r.mem, 4096, "mem");
    expect(r.mem_limit, 8192, "mem limit");
    expect(r.cpu_s, 2.5, "cpu seconds");
    expect(r.cpu_limit, 2.0, "cpu limit");
    put(root, "sys/fs/cgroup/user.slice/job2/memory.max", "max\n");
    put(root, "sys/fs/cgroup/user.slice/job2/cpu.max", "max 100000\n");
    sys_cgroup_sample(&cg, &r);
    expect(r.mem_limit, -1, "no memory limit");
    expect(r.cpu_limit, -1, "no cpu limit");
    tu_rmtree(root);
    free(root);
}
END_TEST

/* A v2 root cgroup has no memory.current: the job's memory is left out. */
START_TEST(cgroup_v2_root_without_memory_current)
{
    char *root = tu_mkdtemp();
    put(root, "proc/self/cgroup", "0::/\n");
    put(root, "sys/fs/cgroup/cgroup.controllers", "cpu memory\n");
    put(root, "sys/fs/cgroup/cpu.stat", "usage_usec 1000000\n");
    sys_cgroup cg;
    sys_cgroup_find(root, &cg);
    sys_cgroup_read r;
    sys_cgroup_sample(&cg, &r);
    expect(r.mem, -1, "no memory.current");
    expect(r.cpu_s, 1.0, "cpu seconds");
    tu_rmtree(root);
    free(root);
}
END_TEST

/* In a container the path names the host's cgroup; its own is the root. */
START_TEST(cgroup_of_a_container_is_its_root)
{
    char *root = tu_mkdtemp();
    put(root, "proc/self/cgroup", "0::/kubepods/pod1/ctr\n");
    put(root, "sys/fs/cgroup/cgroup.controllers", "cpu memory\n");
    put(root, "sys/fs/cgroup/memory.current", "12345\n");
    put(root, "sys/fs/cgroup/memory.max", "999999\n");
    sys_cgroup cg;
    sys_cgroup_find(root, &cg);
    sys_cgroup_read r;
    sys_cgroup_sample(&cg, &r);
    expect(r.mem, 12345, "mem");
    expect(r.mem_limit, 999999, "mem limit");
    tu_rmtree(root);
    free(root);
}
END_TEST

START_TEST(no_proc_no_cgroup_reports_nothing)
{
    char *root = tu_mkdtemp();
    sys_cgroup cg;
    sys_cgroup_find(root, &cg);
    ck_assert_int_eq(cg.version, 0);
    sys_cgroup_read r;
    sys_cgroup_sample(&cg, &r);
    ck_assert(r.mem < 0 && r.mem_limit < 0 && r.cpu_s < 0 && r.cpu_limit < 0);
    sys_proc p;
    sys_proc_read(root, &p);
    ck_assert(p.cpu_s < 0 && p.rss < 0 && p.rss_peak < 0);
    tu_rmtree(root);
    free(root);
}
END_TEST

START_TEST(proc_stat_and_status_with_known_values)
{
    char *root = tu_mkdtemp();
    long hz = sysconf(_SC_CLK_TCK);
    /* a command name with spaces and ')' */
    put(root, "proc/self/stat",
        "4242 (my (odd) prog) S 1 4242 4242 0 -1 4194304 500 0 0 0 250 150 0 0 20 0 3 0 100 "
        "1000000 256 18446744073709551615\n");
    put(root, "proc/self/status",
        "Name:\tmy (odd) prog\nVmPeak:\t  9000 kB\nVmHWM:\t    4096 kB\nVmRSS:\t    2048 "
        "kB\nThreads:\t3\n");
    sys_proc p;
    sys_proc_read(root, &p);
    expect(p.cpu_s, 400.0 / (double)hz, "cpu seconds");
    expect(p.rss, 2048.0 * 1024, "rss");
    expect(p.rss_peak, 4096.0 * 1024, "peak rss");
    tu_rmtree(root);
    free(root);
}
END_TEST

START_TEST(interval_mean_and_max)
{
    sys_agg g = {0};
    double xs[] = {1, 5, 3};
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(sys_agg_add(&g, "a", xs[i]), 0);
    ck_assert_int_eq(sys_agg_add(&g, "b", -2), 0);
    size_t n;
    const tropt_sample *s = sys_agg_emit(&g, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(s[0].key, "a");
    expect(s[0].value, 3.0, "mean");
    expect(s[0].max, 5.0, "max");
    expect(s[1].value, -2, "mean of one");
    s = sys_agg_emit(&g, &n); /* the next interval starts empty */
    ck_assert_uint_eq(n, 0);
    sys_agg_free(&g);
}
END_TEST

/* ---- GPUs through the stand-in library ---------------------------------- */

static const char *standin(void)
{
    const char *p = getenv("TROPT_NVML_STANDIN");
    ck_assert_msg(p && *p, "TROPT_NVML_STANDIN is not set");
    return p;
}

static double value_of(const tropt_sample *s, size_t n, const char *key, int want_max)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s[i].key, key) == 0)
            return want_max ? s[i].max : s[i].value;
    return NAN;
}

START_TEST(gpus_as_cuda_visible_devices_names_them)
{
    /* position 0 is device 1 (by UUID), 1 is device 0 (by index), 2 is the
     * MIG instance (by UUID); then "7" names none: the list ends there */
    const char *visible = "GPU-11111111-1111-1111-1111-111111111111,0,"
                          "MIG-22222222-2222-2222-2222-222222222222,7,1";
    sys_gpu *g = sys_gpu_open(standin(), visible);
    ck_assert_ptr_nonnull(g);
    sys_agg agg = {0};
    sys_gpu_sample(g, &agg);
    sys_gpu_sample(g, &agg);
    size_t n;
    const tropt_sample *s = sys_agg_emit(&agg, &n);
    const double GIB = 1073741824.0;
    expect(value_of(s, n, "sys/gpu0/util_pct", 0), 12, "gpu0 util");
    expect(value_of(s, n, "sys/gpu0/mem_bytes", 0), 1 * GIB, "gpu0 mem");
    expect(value_of(s, n, "sys/gpu0/mem_total_bytes", 0), 8 * GIB, "gpu0 total");
    expect(value_of(s, n, "sys/gpu0/temp_c", 1), 40, "gpu0 temp");
    ck_assert_msg(isnan(value_of(s, n, "sys/gpu0/power_w", 0)), "power of gpu0 is unsupported");
    expect(value_of(s, n, "sys/gpu1/util_pct", 0), 57, "gpu1 util");
    expect(value_of(s, n, "sys/gpu1/power_w", 0), 123.456, "gpu1 power");
    expect(value_of(s, n, "sys/gpu1/temp_c", 0), 65, "gpu1 temp");
    ck_assert_msg(isnan(value_of(s, n, "sys/gpu2/util_pct", 0)), "a MIG has no utilization");
    expect(value_of(s, n, "sys/gpu2/mem_bytes", 0), 2 * GIB, "gpu2 mem");
    ck_assert_msg(isnan(value_of(s, n, "sys/gpu3/temp_c", 0)), "the list ends at '7'");
    sys_agg_free(&agg);
    sys_gpu_close(g);
    /* unset: every device; empty: none */
    g = sys_gpu_open(standin(), NULL);
    ck_assert_ptr_nonnull(g);
    sys_gpu_close(g);
    ck_assert_ptr_null(sys_gpu_open(standin(), ""));
    ck_assert_ptr_null(sys_gpu_open("/nonexistent/libnvidia-ml.so.1", NULL));
}
END_TEST

/* ---- through a tracker --------------------------------------------------- */

/* The recorder's "system" lines (malloc'd text), once there are `want`. */
static char *wait_system_lines(const char *out, int want)
{
    for (double dl = tu_deadline(TU_WAIT_S); tu_poll(dl);) {
        char *text = tu_read_file(out, NULL);
        int n = 0;
        for (const char *p = text; p && (p = strstr(p, "\nsystem ")) != NULL; p++)
            n++;
        if (n >= want)
            return text;
        free(text);
    }
    ck_abort_msg("fewer than %d system records in %s", want, out);
    return NULL;
}

/* "key=mean/max" of the last system line holding key; NAN when none. */
static double recorded(const char *text, const char *key, int want_max)
{
    char *pat = tu_strdupf(" %s=", key);
    const char *last = NULL;
    for (const char *p = text; (p = strstr(p, pat)) != NULL; p++)
        last = p;
    double mean = NAN, max = NAN;
    if (last)
        sscanf(last + strlen(pat), "%lf/%lf", &mean, &max);
    free(pat);
    return want_max ? max : mean;
}

static double vm_rss_now(void)
{
    char *s = tu_read_file("/proc/self/status", NULL);
    const char *p = s ? strstr(s, "\nVmRSS:") : NULL;
    double kb = p ? strtod(p + 7, NULL) : NAN;
    free(s);
    return kb * 1024;
}

START_TEST(live_run_records_this_process)
{
    char *dir = tu_mkdtemp(), *out = tu_path(dir, "calls.txt");
    char *spec = tu_strdupf("recorder:out=%s,sys=1s", out);
    setenv("TROPT_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
    tu_capture_start(); /* no GPU library: no warning, no error */
    tropt_tracker *t;
    ck_assert_int_eq(tropt_tracker_open(&t, spec, NULL, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    char *text = wait_system_lines(out, 3);
    double rss = vm_rss_now();
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK);
    ck_assert_int_eq(tu_captured_count(TROPT_LEVEL_WARNING), 0);
    tu_capture_stop();
    tropt_tracker_free(t);
    unsetenv("TROPT_NVML_LIBRARY");
    double got = recorded(text, "sys/proc/rss_bytes", 0);
    ck_assert_msg(fabs(got - rss) <= 0.1 * rss, "rss %.0f, /proc says %.0f", got, rss);
    ck_assert_msg(recorded(text, "sys/proc/rss_peak_bytes", 1) >= got, "peak below rss");
    ck_assert_msg(recorded(text, "sys/proc/cpu_cores", 0) >= 0, "no cpu_cores:\n%s", text);
    /* this machine's cgroup v1 exposes the job's memory */
    sys_cgroup cg;
    sys_cgroup_find("/", &cg);
    if (cg.mem[0])
        ck_assert_msg(recorded(text, "sys/job/mem_bytes", 0) > 0, "no job memory:\n%s", text);
    free(text);
    tu_rmtree(dir);
    free(dir);
    free(out);
    free(spec);
}
END_TEST

/* A GPU call that hangs costs the run nothing: steps go on, finish returns
 * (the sampler is left detached), and the readings taken before it are
 * there.  The hang is a FIFO nobody writes to, until the test is done. */
START_TEST(a_hung_gpu_call_costs_the_run_nothing)
{
    char *dir = tu_mkdtemp(), *out = tu_path(dir, "calls.txt"), *fifo = tu_path(dir, "hang");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    setenv("STANDIN_BLOCK_FIFO", fifo, 1);
    setenv("TROPT_NVML_LIBRARY", standin(), 1);
    setenv("CUDA_VISIBLE_DEVICES", "0", 1);
    char *spec = tu_strdupf("recorder:out=%s,sys=1s", out);
    tropt_tracker *t;
    ck_assert_int_eq(tropt_tracker_open(&t, spec, NULL, NULL), TROPT_OK);
    ck_assert_int_eq(tropt_tracker_init(t, NULL), TROPT_OK);
    /* the first record holds two samples of the GPU; the third sample hangs
     * in its temperature: wait until it does */
    char *text = wait_system_lines(out, 1);
    char *entered = tu_strdupf("%s.entered", fifo);
    for (double dl = tu_deadline(TU_WAIT_S); access(entered, F_OK) != 0 && tu_poll(dl);)
        ;
    ck_assert_msg(access(entered, F_OK) == 0, "the stand-in's call never hung");
    free(entered);
    for (int i = 0; i < 100; i++) {
        tropt_field f = TROPT_F_INT("i", i);
        ck_assert_int_eq(tropt_tracker_log_fields(t, &f, 1), TROPT_OK);
    }
    ck_assert_int_eq(tropt_tracker_finish(t, NULL), TROPT_OK); /* never waits for the hang */
    tropt_tracker_free(t);
    expect(recorded(text, "sys/gpu0/temp_c", 0), 65, "gpu0 temp before the hang");
    free(text);
    text = tu_read_file(out, NULL);
    ck_assert_msg(strstr(text, "log run=") && strstr(text, " n=1 | i=i:99\n"), "%s", text);
    ck_assert_ptr_nonnull(strstr(text, "finish run="));
    free(text);
    int fd = open(fifo, O_WRONLY); /* release the hung call: the sampler ends on its own */
    ck_assert_int_ge(fd, 0);
    close(fd);
    unsetenv("STANDIN_BLOCK_FIFO");
    unsetenv("TROPT_NVML_LIBRARY");
    unsetenv("CUDA_VISIBLE_DEVICES");
    tu_rmtree(dir);
    free(dir);
    free(out);
    free(fifo);
    free(spec);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sys");
    TCase *tc = tcase_create("sources");
    tcase_add_test(tc, cgroup_v1_with_limits);
    tcase_add_test(tc, cgroup_v1_without_limits_separate_hierarchies);
    tcase_add_test(tc, cgroup_v2_with_and_without_limits);
    tcase_add_test(tc, cgroup_v2_root_without_memory_current);
    tcase_add_test(tc, cgroup_of_a_container_is_its_root);
    tcase_add_test(tc, no_proc_no_cgroup_reports_nothing);
    tcase_add_test(tc, proc_stat_and_status_with_known_values);
    tcase_add_test(tc, interval_mean_and_max);
    tcase_add_test(tc, gpus_as_cuda_visible_devices_names_them);
    suite_add_tcase(s, tc);
    TCase *live = tcase_create("live");
    tcase_set_timeout(live, 180);
    tcase_add_test(live, live_run_records_this_process);
    tcase_add_test(live, a_hung_gpu_call_costs_the_run_nothing);
    suite_add_tcase(s, live);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
