/* core/sys/proc.c - the process itself: the CPU time of all its threads
 * (fields utime and stime of /proc/self/stat, in clock ticks), its resident
 * set and its peak (VmRSS and VmHWM of /proc/self/status). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sys_priv.h"

/* Read a small file under root into buf; its length, or -1. */
static long read_under(const char *root, const char *rel, char *buf, size_t size)
{
    char path[PATH_MAX];
    int w = snprintf(path, sizeof path, "%s%s", strcmp(root, "/") == 0 ? "" : root, rel);
    if (w < 0 || (size_t)w >= sizeof path)
        return -1;
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = '\0';
    return (long)n;
}

/* utime + stime (fields 14 and 15) in seconds; -1 when unreadable.  The
 * command name (field 2) may hold spaces and ')': fields are counted after
 * its last ')'. */
static double cpu_seconds(const char *root)
{
    char buf[4096];
    if (read_under(root, "/proc/self/stat", buf, sizeof buf) <= 0)
        return -1;
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long long ut = 0, st = 0;
    /* after ')': state(3) ppid pgrp session tty tpgid flags minflt cminflt
     * majflt cmajflt utime(14) stime(15) */
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    return hz > 0 ? (double)(ut + st) / (double)hz : -1;
}

/* The value of "Name:   1234 kB" in /proc/self/status, in bytes; -1. */
static double status_kb(const char *status, const char *name)
{
    const char *p = strstr(status, name);
    unsigned long long kb;
    if (!p || sscanf(p + strlen(name), " %llu kB", &kb) != 1)
        return -1;
    return (double)kb * 1024.0;
}

void sys_proc_read(const char *root, sys_proc *out)
{
    char status[8192];
    out->cpu_s = cpu_seconds(root);
    out->rss = out->rss_peak = -1;
    if (read_under(root, "/proc/self/status", status, sizeof status) > 0) {
        out->rss = status_kb(status, "\nVmRSS:");
        out->rss_peak = status_kb(status, "\nVmHWM:");
    }
}
