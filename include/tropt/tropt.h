/* tropt/tropt.h - umbrella header: the whole public API of libtropt. */
#ifndef TROPT_TROPT_H
#define TROPT_TROPT_H

#include <tropt/common.h>
#include <tropt/host.h>
#include <tropt/plugin.h>
#include <tropt/tracker.h>

#endif /* TROPT_TROPT_H */
