/* core/sys/cgroup.c - the process's own cgroup (the job: every worker
 * process of it counts), v1 or v2, from <root>/proc/self/cgroup:
 *
 *   v1  a line "N:memory:/path" -> <root>/sys/fs/cgroup/memory/path:
 *       memory.usage_in_bytes, memory.limit_in_bytes (2^62 and above: no
 *       limit); "N:cpu,cpuacct:/path" (or separate cpu and cpuacct
 *       hierarchies): cpuacct.usage (ns), cpu.cfs_quota_us (-1: no limit) /
 *       cpu.cfs_period_us
 *   v2  the line "0::/path" -> <root>/sys/fs/cgroup/path (or
 *       .../unified/path on a hybrid host): memory.current, memory.max
 *       ("max": no limit), cpu.stat usage_usec, cpu.max ("max P": no limit)
 *
 * A container sees its own cgroup as "/" while the path in
 * /proc/self/cgroup may name the host's: a folder that does not exist under
 * the path is looked for at the hierarchy's root. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sys_priv.h"

static const char *prefix(const char *root)
{
    return strcmp(root, "/") == 0 ? "" : root;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int has_file(const char *dir, const char *name)
{
    char path[PATH_MAX];
    struct stat st;
    int w = snprintf(path, sizeof path, "%s/%s", dir, name);
    return w > 0 && (size_t)w < sizeof path && stat(path, &st) == 0;
}

/* out = <root>/sys/fs/cgroup/<hier><path> when it exists, else the
 * hierarchy's root when it holds `probe` (a container), else "". */
static void locate(const char *root, const char *hier, const char *path, const char *probe,
                   char *out, size_t size)
{
    int w = snprintf(out, size, "%s/sys/fs/cgroup/%s%s", prefix(root), hier, path);
    if (w > 0 && (size_t)w < size && is_dir(out) && has_file(out, probe))
        return;
    w = snprintf(out, size, "%s/sys/fs/cgroup/%s", prefix(root), hier);
    if (w > 0 && (size_t)w < size && is_dir(out) && has_file(out, probe))
        return;
    out[0] = '\0';
}

/* 1 when the comma-separated list holds `name`. */
static int lists(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0'))
            return 1;
    return 0;
}

/* A v1 line "N:ctrls:/path": the folders of the controllers it names. */
static void v1_line(const char *root, const char *ctrls, const char *path, sys_cgroup *cg)
{
    if (lists(ctrls, "memory") && !cg->mem[0])
        locate(root, ctrls, path, "memory.usage_in_bytes", cg->mem, sizeof cg->mem);
    if (lists(ctrls, "cpu") && !cg->cpu[0])
        locate(root, ctrls, path, "cpu.cfs_quota_us", cg->cpu, sizeof cg->cpu);
    if (lists(ctrls, "cpuacct") && !cg->acct[0])
        locate(root, ctrls, path, "cpuacct.usage", cg->acct, sizeof cg->acct);
}

/* The v2 line "0::/path": one folder for everything (pure v2 at
 * /sys/fs/cgroup, or the unified hierarchy of a hybrid host). */
static void v2_line(const char *root, const char *path, sys_cgroup *cg)
{
    char dir[PATH_MAX];
    const char *hiers[] = {"", "unified"};
    for (int i = 0; i < 2; i++) {
        locate(root, hiers[i], path, "cgroup.controllers", dir, sizeof dir);
        if (!dir[0])
            continue;
        if (!cg->mem[0] && has_file(dir, "memory.current"))
            snprintf(cg->mem, sizeof cg->mem, "%s", dir);
        if (!cg->cpu[0] && has_file(dir, "cpu.max"))
            snprintf(cg->cpu, sizeof cg->cpu, "%s", dir);
        if (!cg->acct[0] && has_file(dir, "cpu.stat"))
            snprintf(cg->acct, sizeof cg->acct, "%s", dir);
        return;
    }
}

void sys_cgroup_find(const char *root, sys_cgroup *cg)
{
    memset(cg, 0, sizeof *cg);
    char path[PATH_MAX], line[PATH_MAX + 128];
    int w = snprintf(path, sizeof path, "%s/proc/self/cgroup", prefix(root));
    FILE *f = w > 0 && (size_t)w < sizeof path ? fopen(path, "re") : NULL;
    if (!f)
        return;
    int v1 = 0;
    char v2path[PATH_MAX] = "";
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        if (c2 == c1 + 1) { /* "0::/path" */
            snprintf(v2path, sizeof v2path, "%s", c2 + 1);
        } else if (strncmp(c1 + 1, "name=", 5) != 0) {
            v1_line(root, c1 + 1, c2 + 1, cg);
            v1 = 1;
        }
    }
    fclose(f);
    /* a hybrid host: v1 holds the controllers it lists, the unified v2
     * hierarchy fills only what v1 did not */
    v2_line(root, v2path[0] ? v2path : "/", cg);
    cg->version = !(cg->mem[0] || cg->cpu[0] || cg->acct[0]) ? 0 : v1 ? 1 : 2;
}

/* The first number of <dir>/<name>, or -1 ("max", missing, unreadable). */
static double read_num(const char *dir, const char *name)
{
    char path[PATH_MAX], buf[256];
    int w = snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = w > 0 && (size_t)w < sizeof path ? fopen(path, "re") : NULL;
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *end;
    double v = strtod(buf, &end);
    return end == buf ? -1 : v;
}

/* "usage_usec N" of a v2 cpu.stat, in seconds; -1. */
static double v2_usage(const char *dir)
{
    char path[PATH_MAX], buf[1024];
    int w = snprintf(path, sizeof path, "%s/cpu.stat", dir);
    FILE *f = w > 0 && (size_t)w < sizeof path ? fopen(path, "re") : NULL;
    double usec = -1;
    while (f && fgets(buf, sizeof buf, f))
        if (strncmp(buf, "usage_usec ", 11) == 0)
            usec = strtod(buf + 11, NULL);
    if (f)
        fclose(f);
    return usec < 0 ? -1 : usec / 1e6;
}

/* "QUOTA PERIOD" of a v2 cpu.max in cores; -1 for "max". */
static double v2_quota(const char *dir)
{
    char path[PATH_MAX], buf[128];
    int w = snprintf(path, sizeof path, "%s/cpu.max", dir);
    FILE *f = w > 0 && (size_t)w < sizeof path ? fopen(path, "re") : NULL;
    double q = -1, p = 0;
    if (f && fgets(buf, sizeof buf, f) && sscanf(buf, "%lf %lf", &q, &p) != 2)
        q = -1; /* "max 100000" */
    if (f)
        fclose(f);
    return q > 0 && p > 0 ? q / p : -1;
}

/* v1 memory.limit_in_bytes holds about 2^63 when unlimited. */
#define V1_NO_LIMIT 4611686018427387904.0

void sys_cgroup_sample(const sys_cgroup *cg, sys_cgroup_read *out)
{
    out->mem = out->mem_limit = out->cpu_s = out->cpu_limit = -1;
    int v1 = cg->version == 1;
    if (cg->mem[0] && v1 && has_file(cg->mem, "memory.usage_in_bytes")) {
        out->mem = read_num(cg->mem, "memory.usage_in_bytes");
        double lim = read_num(cg->mem, "memory.limit_in_bytes");
        out->mem_limit = lim >= V1_NO_LIMIT ? -1 : lim;
    } else if (cg->mem[0]) {
        out->mem = read_num(cg->mem, "memory.current");
        out->mem_limit = read_num(cg->mem, "memory.max");
    }
    if (cg->acct[0] && has_file(cg->acct, "cpuacct.usage")) {
        double ns = read_num(cg->acct, "cpuacct.usage");
        out->cpu_s = ns < 0 ? -1 : ns / 1e9;
    } else if (cg->acct[0]) {
        out->cpu_s = v2_usage(cg->acct);
    }
    if (cg->cpu[0] && has_file(cg->cpu, "cpu.cfs_quota_us")) {
        double q = read_num(cg->cpu, "cpu.cfs_quota_us"),
               p = read_num(cg->cpu, "cpu.cfs_period_us");
        out->cpu_limit = q > 0 && p > 0 ? q / p : -1;
    } else if (cg->cpu[0]) {
        out->cpu_limit = v2_quota(cg->cpu);
    }
}
