/*
 * tropt/common.h - export macro, C++ guards and the error codes shared by
 * the optimizer-facing API (tracker.h) and the plugin ABI (plugin.h).
 *
 * Every function of tropt that can fail returns an int: TROPT_OK (0) or one
 * of the negative codes below.  The codes and their names come from one
 * X-macro table so that the enum and tropt_error_name() cannot drift.
 */
#ifndef TROPT_COMMON_H
#define TROPT_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#ifdef __cplusplus
#define TROPT_BEGIN_DECLS extern "C" {
#define TROPT_END_DECLS }
#else
#define TROPT_BEGIN_DECLS
#define TROPT_END_DECLS
#endif

#if defined(__GNUC__) || defined(__clang__)
#define TROPT_API __attribute__((visibility("default")))
#define TROPT_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define TROPT_API
#define TROPT_PRINTF(fmt, args)
#endif

TROPT_BEGIN_DECLS

/* X(NAME, value, description) */
#define TROPT_ERROR_TABLE(X)                                                                       \
    X(OK, 0, "success")                                                                            \
    X(EINVAL, -1, "invalid argument")                                                              \
    X(ENOTFOUND, -2, "plugin not found")                                                           \
    X(EPLUGIN, -3, "unusable plugin")                                                              \
    X(ESTATE, -4, "call not allowed in this state")                                                \
    X(EBACKEND, -5, "backend failure")                                                             \
    X(ENOMEM, -6, "out of memory")

typedef enum {
#define TROPT__ERR_ENUM(name, value, desc) TROPT_##name = value,
    TROPT_ERROR_TABLE(TROPT__ERR_ENUM)
#undef TROPT__ERR_ENUM
} tropt_error;

/* Severity of a diagnostic line (see tropt_set_log_handler in tracker.h). */
typedef enum {
    TROPT_LEVEL_DEBUG = 0,
    TROPT_LEVEL_INFO = 1,
    TROPT_LEVEL_WARNING = 2,
    TROPT_LEVEL_ERROR = 3,
    TROPT_LEVEL_OFF = 4 /* only as a threshold: nothing is emitted */
} tropt_level;

/*
 * The type tag of a tropt_field.  TROPT_JSON carries a borrowed json_t:
 * an object is flattened by the host into "key/member" fields, anything
 * else (an array, an empty object) is kept whole.
 */
typedef enum { TROPT_NULL, TROPT_BOOL, TROPT_INT, TROPT_REAL, TROPT_STRING, TROPT_JSON } tropt_type;

/*
 * One named, typed value.  This struct is the contract for
 * tropt_tracker_log_fields() and for the fields a plugin receives.
 *   key     NUL-terminated UTF-8, never NULL.
 *   v.b     TROPT_BOOL: 0 or 1.
 *   v.i     TROPT_INT: exact 64-bit integer.
 *   v.r     TROPT_REAL: any double, including NaN and +-Inf.
 *   v.s     TROPT_STRING: NUL-terminated UTF-8, never NULL.
 *   v.json  TROPT_JSON: a borrowed jansson value, never NULL.
 * All pointers are borrowed for the duration of one call.
 */
typedef struct tropt_field {
    const char *key;
    tropt_type type;
    union {
        int b;
        int64_t i;
        double r;
        const char *s;
        const json_t *json;
    } v;
} tropt_field;

/* Convenience constructors (C99 compound literals; C++ users fill the struct). */
#ifndef __cplusplus
#define TROPT_F_NULL(k) ((tropt_field){.key = (k), .type = TROPT_NULL})
#define TROPT_F_BOOL(k, x) ((tropt_field){.key = (k), .type = TROPT_BOOL, .v.b = !!(x)})
#define TROPT_F_INT(k, x) ((tropt_field){.key = (k), .type = TROPT_INT, .v.i = (x)})
#define TROPT_F_REAL(k, x) ((tropt_field){.key = (k), .type = TROPT_REAL, .v.r = (x)})
#define TROPT_F_STR(k, x) ((tropt_field){.key = (k), .type = TROPT_STRING, .v.s = (x)})
#define TROPT_F_JSON(k, x) ((tropt_field){.key = (k), .type = TROPT_JSON, .v.json = (x)})
#endif

TROPT_END_DECLS

#endif /* TROPT_COMMON_H */
