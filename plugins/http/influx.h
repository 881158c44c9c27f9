/*
 * plugins/http/influx.h - InfluxDB line protocol for the http backend's
 * format=influx (escaping per the protocol; see plugins/common/README.md).
 */
#ifndef TROPT_HTTP_INFLUX_H
#define TROPT_HTTP_INFLUX_H

#include "tropt_event.h"

/*
 * Append one point for a logged step:
 *   <measurement>,run_id=<id><extra_tags> step=<step>i,<field>=<value>,... <ns>\n
 * extra_tags: NULL or already escaped ",key=value,..." (see influx_tags).
 * INT -> 12i, REAL -> shortest round-trip text, BOOL -> true/false, STRING
 * and JSON (arrays) -> string fields.  NULL fields and non-finite reals
 * (which the protocol cannot express) are left out and counted in
 * *n_skipped.  Returns 0, or -1 on allocation failure (b unchanged).
 */
int influx_encode_log(tev_buf *b, const char *measurement, const char *run_id,
                      const char *extra_tags, int64_t step, double time, const tropt_field *fields,
                      size_t n, tev_format_real_fn fn, size_t *n_skipped);

/* influx_encode_log in two parts, for a caller that writes many points of
 * one run: the escaped "<measurement>,run_id=<id><extra_tags> " (0, or -1
 * on allocation failure, b unchanged), and the rest of a point appended
 * after that prefix, which starts at `mark` in b (the whole line is taken
 * back when no field is representable, or on allocation failure). */
int influx_prefix(tev_buf *b, const char *measurement, const char *run_id, const char *extra_tags);
int influx_encode_fields(tev_buf *b, size_t mark, int64_t step, double time,
                         const tropt_field *fields, size_t n, tev_format_real_fn fn,
                         size_t *n_skipped);

/* One point of system samples at their own time (ns): fields <key>=mean
 * and <key>_max=max (reals; non-finite ones left out).  Appends nothing
 * when no value is finite.  0, or -1 on allocation failure (b unchanged). */
int influx_encode_system(tev_buf *b, const char *measurement, const char *run_id,
                         const char *extra_tags, double time, const tropt_sample *s, size_t n,
                         tev_format_real_fn fn);

/* The escaping rules, exposed for tests.  kind: 'm' measurement, 'k' tag
 * key / tag value / field key, 's' string field value (without quotes). */
int influx_put_escaped(tev_buf *b, const char *s, int kind);

/* Turn "k=v|k2=v2" into the escaped ",k=v,k2=v2" appended to b.  Returns 0,
 * -1 on allocation failure, or the 1-based index of an entry that is not
 * key=value with a non-empty key and value. */
int influx_tags(tev_buf *b, const char *spec);

#endif
