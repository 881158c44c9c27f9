/*
 * plugins/pg/pg_conf.c - what the conninfo says, checked before any
 * connection: the server as messages show it (no password), the values libpq
 * would refuse (a configuration error, never "cannot reach"), and the replay
 * command a spooled run prints.
 *
 * libpq parses a connection string without judging its values
 * (PQconninfoParse accepts sslmode=bogus and port=abc) and refuses them only
 * when it connects, with the same CONNECTION_BAD as an unreachable server.
 * So the values libpq 15 checks itself are checked here, with libpq's own
 * rules: the enumerated ones (sslmode, ...), the integers (port,
 * connect_timeout, keepalives*, tcp_user_timeout), and as many ports as
 * hosts.  An empty value is left to libpq (it means "the default" for most
 * keys), so nothing libpq accepts is refused here.
 */
#include <ctype.h>

#include "pg_priv.h"
#include "tropt_hint.h"

/* ---- values libpq refuses at connect time ------------------------------- */

typedef struct enum_key {
    const char *key;
    const char *const *allowed; /* NULL-terminated */
} enum_key;

static const char *const sslmodes[] = {"disable",   "allow",       "prefer", "require",
                                       "verify-ca", "verify-full", NULL};
static const char *const three_modes[] = {"disable", "prefer", "require", NULL};
static const char *const session_attrs[] = {"any",     "read-write",     "read-only", "primary",
                                            "standby", "prefer-standby", NULL};
static const char *const tls_versions[] = {"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3", NULL};
static const char *const balance[] = {"disable", "random", NULL};
static const char *const certmodes[] = {"disable", "allow", "require", NULL};
static const char *const negotiations[] = {"postgres", "direct", NULL};

/* Keys of newer libpq versions are listed too: they are checked only when
 * this libpq knows them (PQconninfoParse refuses unknown keys). */
static const enum_key enum_keys[] = {
    {"sslmode", sslmodes},
    {"gssencmode", three_modes},
    {"channel_binding", three_modes},
    {"target_session_attrs", session_attrs},
    {"ssl_min_protocol_version", tls_versions},
    {"ssl_max_protocol_version", tls_versions},
    {"load_balance_hosts", balance},
    {"sslcertmode", certmodes},
    {"sslnegotiation", negotiations},
};

static const char *const int_keys[] = {"connect_timeout",  "keepalives",
                                       "keepalives_idle",  "keepalives_interval",
                                       "keepalives_count", "tcp_user_timeout"};

/* An int as libpq reads one: optional blanks, a sign, digits, blanks. */
static int is_int(const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || errno != 0 || v < lo || v > hi)
        return 0;
    while (isspace((unsigned char)*end))
        end++;
    return *end == '\0';
}

/* Elements of a comma-separated list ("a,b" is 2; "" is 1). */
static size_t list_len(const char *s)
{
    size_t n = 1;
    for (; *s; s++)
        n += *s == ',';
    return n;
}

/* Where a value came from, for the message: "conninfo", or the environment
 * variable libpq took it from. */
typedef struct src_val {
    const char *val;
    const char *from;
} src_val;

static int bad_enum(pg *p, const enum_key *k, src_val v)
{
    for (const char *const *a = k->allowed; *a; a++)
        if (strcmp(v.val, *a) == 0)
            return 0;
    tev_buf b;
    tev_buf_init(&b, p->host->realloc, p->host->free);
    for (const char *const *a = k->allowed; *a; a++)
        tev_buf_printf(&b, "%s%s", a == k->allowed ? "" : ", ", *a);
    snprintf(p->err, sizeof p->err, "%s: invalid %s value \"%s\" (one of: %s)", v.from, k->key,
             v.val, b.data ? b.data : "?");
    tev_buf_free(&b);
    return 1;
}

/* Every port 1..65535 (or empty: the default), and one port or one per
 * host.  1 with p->err set when not. */
static int bad_ports(pg *p, src_val port, const char *hosts)
{
    size_t n = list_len(port.val);
    const char *s = port.val;
    for (size_t i = 0; i < n; i++) {
        size_t len = strcspn(s, ",");
        char one[64];
        snprintf(one, sizeof one, "%.*s", (int)(len < sizeof one ? len : sizeof one - 1), s);
        if (len && (len >= sizeof one || !is_int(one, 1, 65535))) {
            snprintf(p->err, sizeof p->err,
                     "%s: invalid port value \"%.*s\" (a port number, 1 to 65535)", port.from,
                     (int)len, s);
            return 1;
        }
        s += len + (s[len] == ',');
    }
    size_t nh = hosts ? list_len(hosts) : 1;
    if (n != 1 && n != nh) {
        snprintf(p->err, sizeof p->err,
                 "%s: %zu ports for %zu hosts (give one port, or one per host)", port.from, n, nh);
        return 1;
    }
    return 0;
}

/* The value of key: the conninfo's, else the environment's (libpq's
 * defaults); val NULL when neither has one. */
static src_val value_of(PQconninfoOption *given, PQconninfoOption *dflt, const char *key)
{
    src_val v = {NULL, "conninfo"};
    for (PQconninfoOption *x = given; x && x->keyword; x++)
        if (strcmp(x->keyword, key) == 0 && x->val)
            v.val = x->val;
    for (PQconninfoOption *x = dflt; !v.val && x && x->keyword; x++)
        if (strcmp(x->keyword, key) == 0 && x->val && x->envvar && getenv(x->envvar)) {
            v.val = x->val;
            v.from = x->envvar;
        }
    return v;
}

/* 1 with p->err naming the key when a value libpq would refuse is there. */
static int bad_values(pg *p, PQconninfoOption *given)
{
    PQconninfoOption *dflt = PQconndefaults();
    int bad = 0;
    for (size_t k = 0; k < sizeof enum_keys / sizeof *enum_keys && !bad; k++) {
        src_val v = value_of(given, dflt, enum_keys[k].key);
        bad = v.val && *v.val && bad_enum(p, &enum_keys[k], v);
    }
    for (size_t k = 0; k < sizeof int_keys / sizeof *int_keys && !bad; k++) {
        src_val v = value_of(given, dflt, int_keys[k]);
        if (v.val && *v.val && !is_int(v.val, INT32_MIN, INT32_MAX)) {
            snprintf(p->err, sizeof p->err, "%s: invalid %s value \"%s\" (an integer)", v.from,
                     int_keys[k], v.val);
            bad = 1;
        }
    }
    if (!bad) {
        src_val port = value_of(given, dflt, "port");
        src_val hostaddr = value_of(given, dflt, "hostaddr");
        src_val host = value_of(given, dflt, "host");
        const char *hosts = hostaddr.val && *hostaddr.val ? hostaddr.val : host.val;
        bad = port.val && *port.val && bad_ports(p, port, hosts);
    }
    PQconninfoFree(dflt);
    if (bad) {
        pg_scrub_one(p->err, p->secret);
        pg_scrub_one(p->err, p->password);
    }
    return bad;
}

/* ---- the server as messages show it, and the replay command -------------- */

/* "host=... port=... dbname=... user=..." (no password) into p->shown, the
 * password into p->secret (for scrubbing).  0, or -1 out of memory. */
static int describe(pg *p, PQconninfoOption *o)
{
    tev_buf b;
    tev_buf_init(&b, p->host->realloc, p->host->free);
    int bad = 0;
    static const char *const shown[] = {"host", "hostaddr", "port", "dbname", "user", "service"};
    for (PQconninfoOption *x = o; x->keyword; x++) {
        if (strcmp(x->keyword, "password") == 0 && x->val && *x->val) {
            p->secret = tropt_host_strdup(p->host, x->val);
            bad |= !p->secret;
        }
        for (size_t k = 0; k < sizeof shown / sizeof *shown; k++)
            if (strcmp(x->keyword, shown[k]) == 0 && x->val && *x->val)
                bad |= tev_buf_printf(&b, "%s%s=%s", b.len ? " " : "", x->keyword, x->val);
    }
    if (!bad && b.len == 0)
        bad |= tev_buf_puts(&b, "(libpq defaults)");
    p->shown = bad ? NULL : tev_buf_steal(&b);
    tev_buf_free(&b);
    return p->shown ? 0 : -1;
}

/* The conninfo as key='value' pairs, every key the user gave except the
 * secret ones (libpq marks them with dispchar "*"); *secrets gets a bit per
 * secret left out: 1 password, 2 any other (sslpassword). */
static int conninfo_without_secrets(tev_buf *b, PQconninfoOption *o, int *secrets)
{
    int bad = 0;
    *secrets = 0;
    for (PQconninfoOption *x = o; x->keyword; x++) {
        if (!x->val)
            continue;
        if (x->dispchar && x->dispchar[0] == '*') {
            *secrets |= *x->val ? (strcmp(x->keyword, "password") == 0 ? 1 : 2) : 0;
            continue;
        }
        bad |= tev_buf_printf(b, "%s%s=", b->len ? " " : "", x->keyword);
        bad |= tropt_hint_conninfo_value(b, x->val);
    }
    return bad;
}

/* "tropt replay DIR --tracker 'pg:conninfo=...,spool=off'" and what the
 * command cannot carry, as advice.  0, or -1 out of memory. */
static int build_hint(pg *p, PQconninfoOption *o, const char *password_env)
{
    tev_buf ci, spec, cmd;
    tev_buf_init(&ci, p->host->realloc, p->host->free);
    tev_buf_init(&spec, p->host->realloc, p->host->free);
    tev_buf_init(&cmd, p->host->realloc, p->host->free);
    int secrets = 0;
    int bad = conninfo_without_secrets(&ci, o, &secrets) | tev_buf_puts(&spec, "pg:");
    if (ci.len)
        bad |= tropt_hint_spec_option(&spec, "conninfo", ci.data);
    if (strcmp(p->schema, "tropt") != 0)
        bad |= tropt_hint_spec_option(&spec, "schema", p->schema);
    if (password_env)
        bad |= tropt_hint_spec_option(&spec, "password_env", password_env);
    bad |= tropt_hint_spec_option(&spec, "spool", "off") | tev_buf_puts(&cmd, "tropt replay ") |
           tropt_hint_shell_word(&cmd, p->spool_dir, 0) | tev_buf_puts(&cmd, " --tracker ");
    if (!bad)
        bad = tropt_hint_shell_word(&cmd, spec.data, 1);
    if ((secrets & 1) && !password_env)
        bad |= tev_buf_puts(&cmd, " (give the password as before, it is not shown: PGPASSWORD, "
                                  ".pgpass or password_env=NAME)");
    if (secrets & 2)
        bad |= tev_buf_puts(&cmd, " (give sslpassword as before: it is not shown)");
    p->replay_hint = bad ? NULL : tev_buf_steal(&cmd);
    tev_buf_free(&ci);
    tev_buf_free(&spec);
    tev_buf_free(&cmd);
    return p->replay_hint ? 0 : -1;
}

int pg_conf_conninfo(pg *p, const char *password_env)
{
    char *perr = NULL;
    PQconninfoOption *o = PQconninfoParse(p->conninfo, &perr);
    if (!o) {
        PQfreemem(perr);
        return p->host->error(TROPT_EINVAL,
                              "conninfo is not a valid libpq connection string or URI");
    }
    int rc = TROPT_OK;
    if (describe(p, o) != 0 || build_hint(p, o, password_env) != 0)
        rc = p->host->error(TROPT_ENOMEM, "out of memory");
    else if (bad_values(p, o))
        rc = p->host->error(TROPT_EINVAL, "%s", p->err);
    PQconninfoFree(o);
    return rc;
}
