/* core/sys/sampler.c - placeholder until the sampler lands: a tracker
 * asked for system metrics is told they are not in this build. */
#include "../internal.h"
#include "sampler.h"

int tropt__sampler_start(tropt__sampler **out, const tropt__sampler_conf *conf)
{
    (void)conf;
    *out = NULL;
    return tropt__error(TROPT_EINVAL, "sys: system metrics are not available in this build");
}

int tropt__sampler_stop(tropt__sampler *s)
{
    (void)s;
    return 1;
}
