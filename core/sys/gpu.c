/* core/sys/gpu.c - NVIDIA GPUs through NVIDIA's management library
 * (libnvidia-ml.so.1), loaded with dlopen when present: no build
 * dependency, and no library or no device is "no GPU", never an error.
 * The library's types are declared here (only what the readings need);
 * the symbols the basic readings need are required, the rest optional.
 *
 * Devices are those CUDA_VISIBLE_DEVICES names, in its order: <i> in
 * sys/gpu<i>/... is the position in that list (what the program calls
 * cuda:<i>), an entry being an NVML index, a GPU-... UUID or a MIG-...
 * UUID (looked up by UUID).  As CUDA does, the list ends at the first entry
 * that names no device.  Unset: every device, in NVML's order. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../internal.h"
#include "sys_priv.h"

typedef int nvml_ret;
typedef struct nvml_device_st *nvml_device;
typedef struct {
    unsigned int gpu, memory;
} nvml_utilization;
typedef struct {
    unsigned long long total, free, used;
} nvml_memory;

#define NVML_SUCCESS 0
#define NVML_ERROR_NOT_SUPPORTED 3
#define NVML_TEMPERATURE_GPU 0
#define MAX_GPUS 64

typedef struct nvml_api {
    nvml_ret (*init)(void);
    nvml_ret (*count)(unsigned int *);
    nvml_ret (*by_index)(unsigned int, nvml_device *);
    nvml_ret (*utilization)(nvml_device, nvml_utilization *);
    nvml_ret (*memory)(nvml_device, nvml_memory *);
    nvml_ret (*power)(nvml_device, unsigned int *);
    nvml_ret (*temperature)(nvml_device, int, unsigned int *);
    nvml_ret (*by_uuid)(const char *, nvml_device *); /* optional: UUID entries */
} nvml_api;

enum { F_UTIL, F_MEM, F_POWER, F_TEMP, N_FIELDS };

struct sys_gpu {
    void *lib; /* never dlclosed: a detached sampler may still be inside it */
    nvml_api api;
    nvml_device dev[MAX_GPUS];
    size_t n;
    unsigned char off[MAX_GPUS][N_FIELDS]; /* field not supported: left out */
};

static int load_api(void *lib, nvml_api *a)
{
    /* the symbol names of the library's ABI; dlsym gives void *, whose
     * conversion to a function pointer POSIX guarantees */
#define SYM(field, name) (*(void **)&a->field = dlsym(lib, name))
    SYM(init, "nvmlInit_v2");
    SYM(count, "nvmlDeviceGetCount_v2");
    SYM(by_index, "nvmlDeviceGetHandleByIndex_v2");
    SYM(utilization, "nvmlDeviceGetUtilizationRates");
    SYM(memory, "nvmlDeviceGetMemoryInfo");
    SYM(power, "nvmlDeviceGetPowerUsage");
    SYM(temperature, "nvmlDeviceGetTemperature");
    SYM(by_uuid, "nvmlDeviceGetHandleByUUID");
#undef SYM
    return a->init && a->count && a->by_index && a->utilization && a->memory && a->power &&
           a->temperature;
}

/* One entry of CUDA_VISIBLE_DEVICES to a device; 0 when it names none. */
static int entry_device(const nvml_api *a, const char *entry, unsigned int count, nvml_device *d)
{
    if (strncmp(entry, "GPU-", 4) == 0 || strncmp(entry, "MIG-", 4) == 0)
        return a->by_uuid && a->by_uuid(entry, d) == NVML_SUCCESS;
    char *end;
    long i = strtol(entry, &end, 10);
    if (!*entry || *end || i < 0 || (unsigned long)i >= count)
        return 0;
    return a->by_index((unsigned int)i, d) == NVML_SUCCESS;
}

static void find_devices(sys_gpu *g, const char *visible, unsigned int count)
{
    if (!visible) {
        for (unsigned int i = 0; i < count && g->n < MAX_GPUS; i++)
            if (g->api.by_index(i, &g->dev[g->n]) == NVML_SUCCESS)
                g->n++;
        return;
    }
    char list[1024];
    snprintf(list, sizeof list, "%s", visible);
    for (char *save = NULL, *e = strtok_r(list, ",", &save); e && g->n < MAX_GPUS;
         e = strtok_r(NULL, ",", &save)) {
        while (*e == ' ')
            e++;
        if (!entry_device(&g->api, e, count, &g->dev[g->n]))
            break; /* as CUDA: the list ends at the first entry naming no device */
        g->n++;
    }
}

sys_gpu *sys_gpu_open(const char *library, const char *visible)
{
    void *lib = dlopen(library ? library : "libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return NULL; /* no NVIDIA driver: no GPU, not an error */
    sys_gpu *g = calloc(1, sizeof *g);
    unsigned int count = 0;
    if (!g || !load_api(lib, &g->api) || g->api.init() != NVML_SUCCESS ||
        g->api.count(&count) != NVML_SUCCESS) {
        tropt__log(TROPT_LEVEL_DEBUG, "system metrics: the NVIDIA library is unusable");
        free(g);
        return NULL; /* the library stays loaded: unloading a vendor library is not safe */
    }
    g->lib = lib;
    find_devices(g, visible, count);
    if (g->n == 0) {
        free(g);
        return NULL;
    }
    return g;
}

/* Record one field of device i, or switch it off when unsupported. */
static void field(sys_gpu *g, sys_agg *agg, size_t i, int f, nvml_ret rc, const char *name,
                  double v)
{
    char key[SYS_KEY_MAX];
    if (rc == NVML_SUCCESS) {
        snprintf(key, sizeof key, "sys/gpu%zu/%s", i, name);
        sys_agg_add(agg, key, v);
    } else if (rc == NVML_ERROR_NOT_SUPPORTED) {
        g->off[i][f] = 1;
        tropt__log(TROPT_LEVEL_DEBUG, "system metrics: gpu%zu does not report %s; left out", i,
                   name);
    }
}

/* One device's readings (each call made before its value is read). */
static void sample_device(sys_gpu *g, sys_agg *agg, size_t i)
{
    nvml_utilization u = {0, 0};
    nvml_memory m = {0, 0, 0};
    unsigned int mw = 0, c = 0;
    nvml_ret rc;
    if (!g->off[i][F_UTIL]) {
        rc = g->api.utilization(g->dev[i], &u);
        field(g, agg, i, F_UTIL, rc, "util_pct", u.gpu);
    }
    if (!g->off[i][F_MEM]) {
        rc = g->api.memory(g->dev[i], &m);
        field(g, agg, i, F_MEM, rc, "mem_bytes", (double)m.used);
        field(g, agg, i, F_MEM, rc, "mem_total_bytes", (double)m.total);
    }
    if (!g->off[i][F_POWER]) {
        rc = g->api.power(g->dev[i], &mw);
        field(g, agg, i, F_POWER, rc, "power_w", mw / 1000.0);
    }
    if (!g->off[i][F_TEMP]) {
        rc = g->api.temperature(g->dev[i], NVML_TEMPERATURE_GPU, &c);
        field(g, agg, i, F_TEMP, rc, "temp_c", c);
    }
}

void sys_gpu_sample(sys_gpu *g, sys_agg *agg)
{
    for (size_t i = 0; g && i < g->n; i++)
        sample_device(g, agg, i);
}

void sys_gpu_close(sys_gpu *g)
{
    free(g);
}
