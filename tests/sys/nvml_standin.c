/*
 * tests/sys/nvml_standin.c - a stand-in for NVIDIA's libnvidia-ml.so.1 with
 * fixed readings, for the system-metrics tests (there is no GPU here):
 *
 *   device 0  GPU-00000000-0000-0000-0000-000000000000  util 57 %, 3 GiB of
 *             16 GiB, 123.456 W, 65 C
 *   device 1  GPU-11111111-1111-1111-1111-111111111111  util 12 %, 1 GiB of
 *             8 GiB, power NOT_SUPPORTED, 40 C
 *   MIG       MIG-22222222-2222-2222-2222-222222222222 (by UUID only):
 *             util NOT_SUPPORTED, 2 GiB of 4 GiB, power NOT_SUPPORTED, 50 C
 *
 * With $STANDIN_BLOCK_FIFO set, the temperature of device 0 blocks, from
 * its third call, until a writer opens that FIFO (a hung vendor call the
 * test releases when it is done); it first creates "<fifo>.entered", so the
 * test knows the call hangs.  Only the symbols the sampler needs.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int nvmlReturn_t;
typedef struct {
    unsigned int gpu, memory;
} nvmlUtilization_t;
typedef struct {
    unsigned long long total, free, used;
} nvmlMemory_t;

#define EXPORT __attribute__((visibility("default")))
#define OK 0
#define NOT_FOUND 6
#define NOT_SUPPORTED 3
#define GIB (1ull << 30)

typedef struct dev {
    const char *uuid;
    unsigned int util; /* ~0u: not supported */
    unsigned long long used, total;
    unsigned int power_mw; /* ~0u: not supported */
    unsigned int temp;
} dev;

static const dev devs[3] = {
    {"GPU-00000000-0000-0000-0000-000000000000", 57, 3 * GIB, 16 * GIB, 123456, 65},
    {"GPU-11111111-1111-1111-1111-111111111111", 12, 1 * GIB, 8 * GIB, ~0u, 40},
    {"MIG-22222222-2222-2222-2222-222222222222", ~0u, 2 * GIB, 4 * GIB, ~0u, 50},
};

typedef const dev *nvmlDevice_t;

EXPORT nvmlReturn_t nvmlInit_v2(void)
{
    return OK;
}

EXPORT nvmlReturn_t nvmlShutdown(void)
{
    return OK;
}

EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *n)
{
    *n = 2; /* the MIG instance is not a device of its own */
    return OK;
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvmlDevice_t *d)
{
    if (i >= 2)
        return NOT_FOUND;
    *d = &devs[i];
    return OK;
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *d)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(uuid, devs[i].uuid) == 0) {
            *d = &devs[i];
            return OK;
        }
    return NOT_FOUND;
}

EXPORT nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t d, nvmlUtilization_t *u)
{
    if (d->util == ~0u)
        return NOT_SUPPORTED;
    u->gpu = d->util;
    u->memory = d->util / 2;
    return OK;
}

EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t d, nvmlMemory_t *m)
{
    m->total = d->total;
    m->used = d->used;
    m->free = d->total - d->used;
    return OK;
}

EXPORT nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned int *mw)
{
    if (d->power_mw == ~0u)
        return NOT_SUPPORTED;
    *mw = d->power_mw;
    return OK;
}

EXPORT nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor, unsigned int *c)
{
    static int calls;
    const char *fifo = getenv("STANDIN_BLOCK_FIFO");
    if (d == &devs[0] && fifo && ++calls >= 3) {
        char mark[4096];
        snprintf(mark, sizeof mark, "%s.entered", fifo);
        int m = open(mark, O_WRONLY | O_CREAT, 0600);
        if (m >= 0)
            close(m);
        int fd = open(fifo, O_RDONLY); /* blocks until the test opens it to write */
        if (fd >= 0)
            close(fd);
    }
    if (sensor != 0)
        return NOT_SUPPORTED;
    *c = d->temp;
    return OK;
}
