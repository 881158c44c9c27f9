/*
 * core/sys/sys_priv.h - the system-metrics sampler's parts (SPEC 16), one
 * file per source, every read under a root folder so tests run them on
 * fixture trees:
 *
 *   sampler.c  the thread: samples every second, records the mean and the
 *              maximum of each key every interval, stops without ever
 *              stalling its tracker
 *   agg.c      the per-interval accumulation of samples by key
 *   proc.c     the process: CPU time of its threads, RSS, peak RSS
 *              (<root>/proc/self/stat, <root>/proc/self/status)
 *   cgroup.c   the process's own cgroup, v1 or v2: memory in use and its
 *              limit, CPU time of every process of the job and its quota
 *   gpu.c      NVIDIA GPUs through libnvidia-ml.so.1, loaded with dlopen
 *              when present, devices as CUDA_VISIBLE_DEVICES names them
 *
 * Nothing here fails a run: a source that is missing reports nothing.
 */
#ifndef TROPT_SYS_PRIV_H
#define TROPT_SYS_PRIV_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <tropt/plugin.h>

/* ---- agg.c -------------------------------------------------------------- */

#define SYS_KEY_MAX 48

typedef struct sys_acc {
    char key[SYS_KEY_MAX];
    double sum, max;
    long n;
} sys_acc;

typedef struct sys_agg {
    sys_acc *a; /* in the order keys were first seen */
    size_t n, cap;
    tropt_sample *out; /* sys_agg_emit's result, n entries */
} sys_agg;

/* Add one sample of `key`.  -1 when memory ran out (the sample is lost). */
int sys_agg_add(sys_agg *g, const char *key, double v);
/* The interval's records (mean and max of every key that had a sample),
 * valid until the next call; *n their count.  Starts the next interval. */
const tropt_sample *sys_agg_emit(sys_agg *g, size_t *n);
void sys_agg_free(sys_agg *g);

/* ---- proc.c ------------------------------------------------------------- */

typedef struct sys_proc {
    double cpu_s;    /* user + system time of every thread, seconds; < 0 unknown */
    double rss;      /* resident bytes; < 0 unknown */
    double rss_peak; /* the peak resident bytes (VmHWM); < 0 unknown */
} sys_proc;

/* Read <root>/proc/self/stat and status.  Fields that cannot be read stay
 * negative. */
void sys_proc_read(const char *root, sys_proc *out);

/* ---- cgroup.c ----------------------------------------------------------- */

typedef struct sys_cgroup {
    int version;         /* 1 or 2; 0: none found */
    char mem[PATH_MAX];  /* the memory controller's folder, "" none */
    char cpu[PATH_MAX];  /* the cpu (quota) controller's folder, "" none */
    char acct[PATH_MAX]; /* where CPU usage is read (v1 cpuacct, v2 = cpu), "" none */
} sys_cgroup;

/* Find the process's own cgroup from <root>/proc/self/cgroup and the
 * folders under <root>/sys/fs/cgroup. */
void sys_cgroup_find(const char *root, sys_cgroup *cg);

typedef struct sys_cgroup_read {
    double mem;       /* bytes in use; < 0 unknown */
    double mem_limit; /* bytes; < 0 no limit or unknown */
    double cpu_s;     /* CPU seconds used by the job; < 0 unknown */
    double cpu_limit; /* cores the quota allows; < 0 no limit or unknown */
} sys_cgroup_read;

void sys_cgroup_sample(const sys_cgroup *cg, sys_cgroup_read *out);

/* ---- gpu.c -------------------------------------------------------------- */

typedef struct sys_gpu sys_gpu;

/* Load `library` (NULL: "libnvidia-ml.so.1") and find the devices that
 * `visible` (CUDA_VISIBLE_DEVICES: NULL all, "" none, indices, GPU- or MIG-
 * UUIDs) names.  NULL when there is no library or no device (no message). */
sys_gpu *sys_gpu_open(const char *library, const char *visible);
/* One sample of every device: sys/gpu<i>/util_pct, mem_bytes,
 * mem_total_bytes, power_w, temp_c, <i> its position in `visible`.  A field
 * the device does not support is left out after one debug message. */
void sys_gpu_sample(sys_gpu *g, sys_agg *agg);
/* Forget the devices; the library stays loaded (a call may still be
 * running in a detached sampler). */
void sys_gpu_close(sys_gpu *g);

#endif
