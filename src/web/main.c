/* tend-web: tend's HTTP front. A separate, unprivileged executable that tend starts as the
 * program "tend-web" when the config has [inet_http_server]; it talks to the supervisor only
 * through the control protocol (doc/protocol.md), on a socket tend opened for it alone. It
 * serves the JSON API under /api/v1/, Prometheus metrics at /metrics and a status page at /.
 *
 * HTTP parsing is libmicrohttpd's. It runs one thread per connection (so a request that waits
 * for a restart, or a log follower, blocks only itself), with a bound on connections, on the
 * memory of one request's line and headers, and an inactivity timeout: a slow or hostile
 * client holds at most one bounded slot for a bounded time, and never reaches tend.
 *
 * Security: loopback unless a password is set (checked by config.c and again here);
 * credentials compared as SHA-1 digests in constant time; failed logins serialised behind a
 * delay; mutations only as POST carrying the X-Tend-Request header (which a cross-site form
 * cannot send and cross-site script cannot send without a CORS preflight we never grant) and
 * a same-origin Origin/Sec-Fetch-Site when the browser sends them; every response carries CSP,
 * frame, sniffing and referrer headers; a NAME is served only when tend lists it. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "config.h"
#include "proto.h"
#include "util/fd.h"
#include "util/str.h"
#include "web/assets.h"
#include "web/ctl.h"
#include "web/sha1.h"
#include "web/xmlrpc.h"

#define MAX_CONNECTIONS 1000     /* lowered to fit RLIMIT_NOFILE */
#define CONN_TIMEOUT_S 15        /* an idle connection is closed after this */
#define CONN_MEMORY 16384        /* request line + headers of one request, bytes */
#define THREAD_STACK (256 * 1024)
#define MAX_BODY 4096            /* no endpoint reads a body; a small one is tolerated */
#define FAIL_DELAY_MS 500        /* each failed login holds the one failure slot this long */
#define QUICK_TIMEOUT_MS 10000   /* status, info, logs, signal */
#define SLOW_TIMEOUT_MS 600000   /* start, stop, restart, reload: tend answers when done */
#define SSE_KEEPALIVE_S 10
#define MAX_LOG_LINES 10000
/* Live log streams at once. Each holds one of tend's control connections and one inotify
 * instance in tend, which counts against the user's limit (fs.inotify.max_user_instances,
 * 128 by default) that tend also needs for pidfile= programs. */
#define MAX_FOLLOWERS 8

static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
                          "connect-src 'self'; img-src 'self'; base-uri 'none'; "
                          "form-action 'none'; frame-ancestors 'none'";

static struct {
    bool auth;
    uint8_t user_digest[SHA1_LEN];
    uint8_t pass_digest[SHA1_LEN];
    pthread_mutex_t fail_lock;
} web = {.fail_lock = PTHREAD_MUTEX_INITIALIZER};

static atomic_bool stopping; /* SIGTERM came: followers end their streams */
static atomic_int followers; /* live log streams now */

/* Per request: body bytes seen (only XML-RPC takes a body: it is kept, up to
 * XMLRPC_MAX_BODY). */
struct req {
    size_t body;
    bool rpc;         /* POST /RPC2 */
    struct str data;  /* its body */
};

/* ---- small helpers ---- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Equal digests, in time that does not depend on where they differ. */
static unsigned ct_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
    unsigned d = 0;

    for (size_t i = 0; i < n; i++)
        d |= (unsigned)(a[i] ^ b[i]);
    return d;
}

/* Appends s as a JSON string; invalid UTF-8 bytes become U+FFFD, so the output always
 * parses. */
static void json_str(struct str *o, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    str_append_char(o, '"');
    while (*p != '\0') {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            str_append_char(o, '\\');
            str_append_char(o, (char)c);
            p++;
        } else if (c < 0x20 || c == 0x7f) {
            str_appendf(o, "\\u%04x", c);
            p++;
        } else if (c < 0x80) {
            str_append_char(o, (char)c);
            p++;
        } else {
            size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
            size_t k = 1;
            while (n > 0 && k < n && (p[k] & 0xc0) == 0x80)
                k++;
            if (n == 0 || k != n || c > 0xf4) {
                str_append(o, "\\ufffd");
                p++;
            } else {
                str_append_len(o, (const char *)p, n);
                p += n;
            }
        }
    }
    str_append_char(o, '"');
}

/* Appends s as a Prometheus label value (backslash, quote and newline escaped). */
static void prom_label(struct str *o, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\' || *s == '"')
            str_append_char(o, '\\');
        if (*s == '\n') {
            str_append(o, "\\n");
            continue;
        }
        str_append_char(o, *s);
    }
}

/* ---- responses ---- */

static void add_security_headers(struct MHD_Response *r)
{
    /* MHD_add_response_header fails only on a malformed header or no memory; these are
     * constant and tiny, and a missing header must not turn into a missing response. */
    (void)MHD_add_response_header(r, "Content-Security-Policy", csp);
    (void)MHD_add_response_header(r, "X-Frame-Options", "DENY");
    (void)MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    (void)MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    (void)MHD_add_response_header(r, "Cross-Origin-Resource-Policy", "same-origin");
    (void)MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
    (void)MHD_add_response_header(r, "Cache-Control", "no-store");
}

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *type,
                               const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    add_security_headers(r);
    (void)MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Like respond, but hands body (malloc'd) over to MHD, which frees it: no copy. */
static enum MHD_Result respond_owned(struct MHD_Connection *c, unsigned status, const char *type,
                                     char *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(body);
        return MHD_NO;
    }
    add_security_headers(r);
    (void)MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result respond_json(struct MHD_Connection *c, unsigned status, struct str *body)
{
    str_append_char(body, '\n');
    size_t len = body->len;
    return respond_owned(c, status, "application/json", str_release(body), len);
}

static enum MHD_Result respond_error(struct MHD_Connection *c, unsigned status, const char *fmt,
                                     ...) __attribute__((format(printf, 3, 4)));
static enum MHD_Result respond_error(struct MHD_Connection *c, unsigned status, const char *fmt,
                                     ...)
{
    char text[1024];
    va_list ap;
    struct str o;

    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    str_init(&o);
    str_append(&o, "{\"ok\":false,\"error\":");
    json_str(&o, text);
    str_append_char(&o, '}');
    return respond_json(c, status, &o);
}

static unsigned http_status_of(const struct ctl_result *r)
{
    if (r->transport)
        return MHD_HTTP_BAD_GATEWAY;
    switch (r->err) {
    case PROTO_OK: return MHD_HTTP_OK;
    case PROTO_ERR_NO_SUCH_PROCESS: return MHD_HTTP_NOT_FOUND;
    case PROTO_ERR_BAD_SIGNAL:
    case PROTO_ERR_BAD_ARGUMENT: return MHD_HTTP_BAD_REQUEST;
    case PROTO_ERR_DENIED: return MHD_HTTP_FORBIDDEN;
    case PROTO_ERR_BUSY: return MHD_HTTP_SERVICE_UNAVAILABLE;
    case PROTO_ERR_FAILED:
    default: return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
}

/* {"ok":..., "messages":[...], "error":...} from a reply of msg lines. */
static enum MHD_Result respond_result(struct MHD_Connection *c, const struct ctl_result *r)
{
    struct str o;

    str_init(&o);
    str_appendf(&o, "{\"ok\":%s,\"messages\":[", r->ok ? "true" : "false");
    bool first = true;
    for (size_t i = 0; i < r->n; i++) {
        if (r->lines[i].kind != PROTO_REPLY_MSG)
            continue;
        if (!first)
            str_append_char(&o, ',');
        first = false;
        json_str(&o, r->lines[i].text);
    }
    str_append_char(&o, ']');
    if (!r->ok) {
        str_append(&o, ",\"error\":");
        json_str(&o, r->text);
    }
    str_append_char(&o, '}');
    return respond_json(c, http_status_of(r), &o);
}

/* ---- authentication and CSRF ---- */

/* A client tend handed over from its control socket (supervisorctl on the unix socket): it
 * passed tend's peer check and the socket's permissions, which are that socket's access
 * control, as supervisord's file mode is for its. */
static bool from_unix_socket(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

    return ci != NULL && ci->client_addr != NULL && ci->client_addr->sa_family == AF_UNIX;
}

static bool authorised(struct MHD_Connection *c, bool *tried)
{
    char *pass = NULL;
    char *user;
    uint8_t du[SHA1_LEN], dp[SHA1_LEN];

    *tried = false;
    if (!web.auth || from_unix_socket(c))
        return true;
    user = MHD_basic_auth_get_username_password(c, &pass);
    if (user == NULL) {
        if (pass != NULL)
            MHD_free(pass);
        return false;
    }
    *tried = true;
    sha1(user, strlen(user), du);
    sha1(pass != NULL ? pass : "", pass != NULL ? strlen(pass) : 0, dp);
    /* Both compared, always: which one was wrong is not told by the time taken. */
    unsigned d = ct_diff(du, web.user_digest, SHA1_LEN) | ct_diff(dp, web.pass_digest, SHA1_LEN);
    if (pass != NULL) {
        explicit_bzero(pass, strlen(pass));
        MHD_free(pass);
    }
    MHD_free(user);
    return d == 0;
}

/* A failed login waits for the single failure slot and holds it FAIL_DELAY_MS: guessing runs
 * at 1000/FAIL_DELAY_MS attempts a second whatever the number of connections, while good
 * logins never wait. */
static void slow_down_failure(void)
{
    struct timespec ts = {0, FAIL_DELAY_MS * 1000000L};

    pthread_mutex_lock(&web.fail_lock);
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
    pthread_mutex_unlock(&web.fail_lock);
}

static enum MHD_Result respond_unauthorised(struct MHD_Connection *c)
{
    static const char body[] = "{\"ok\":false,\"error\":\"authentication required\"}\n";
    struct MHD_Response *r = MHD_create_response_from_buffer(
        sizeof body - 1, (void *)(uintptr_t)body, MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return MHD_NO;
    add_security_headers(r);
    (void)MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_basic_auth_fail_response(c, "tend", r);
    MHD_destroy_response(r);
    return ret;
}

/* NULL when the request may change things, else why not. */
static const char *csrf_problem(struct MHD_Connection *c)
{
    const char *marker = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Tend-Request");
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    const char *site = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Site");

    if (marker == NULL || strcmp(marker, "1") != 0)
        return "a changing request needs the header X-Tend-Request: 1";
    if (site != NULL && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0)
        return "cross-site request refused";
    if (origin != NULL) {
        if (host == NULL || strncmp(origin, "http://", 7) != 0 || strcmp(origin + 7, host) != 0)
            return "cross-origin request refused";
    }
    return NULL;
}

/* Without a password, the Host header must name loopback by address or as localhost: a web
 * page whose own name was made to resolve to 127.0.0.1 (DNS rebinding) is same-origin with
 * us in the browser's eyes, but it sends its own name as Host, and is turned away here. With
 * a password such a page has no credentials to send. */
static bool host_allowed(struct MHD_Connection *c)
{
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    char name[64];
    unsigned char addr[sizeof(struct in6_addr)];

    if (web.auth || from_unix_socket(c))
        return true; /* no browser reaches a unix socket by a name it chose */
    if (host == NULL)
        return false;
    const char *end;
    if (host[0] == '[') {
        end = strchr(host, ']');
        if (end == NULL || (size_t)(end - host - 1) >= sizeof name)
            return false;
        memcpy(name, host + 1, (size_t)(end - host - 1));
        name[end - host - 1] = '\0';
        end++;
    } else {
        end = strchr(host, ':');
        if (end == NULL)
            end = host + strlen(host);
        if ((size_t)(end - host) >= sizeof name)
            return false;
        memcpy(name, host, (size_t)(end - host));
        name[end - host] = '\0';
    }
    if (*end != '\0' && *end != ':')
        return false;
    return strcmp(name, "localhost") == 0 || inet_pton(AF_INET, name, addr) == 1 ||
           inet_pton(AF_INET6, name, addr) == 1;
}

/* ---- talking to tend ---- */

/* Is name a process or a group tend knows? The set is asked for each time: a reload may
 * change it. A NAME is never used for anything but a protocol word after this. */
static int known_name(const char *name, bool *known, struct ctl_result *err_out)
{
    struct ctl_result r;

    *known = false;
    if (ctl_call("status", NULL, 0, QUICK_TIMEOUT_MS, &r) == -1 || !r.ok) {
        *err_out = r;
        return -1;
    }
    for (size_t i = 0; i < r.n && !*known; i++) {
        if (r.lines[i].kind != PROTO_REPLY_PROC)
            continue;
        *known = strcmp(r.lines[i].proc.name, name) == 0 ||
                 strcmp(r.lines[i].proc.group, name) == 0;
    }
    ctl_result_free(&r);
    return 0;
}

/* Collects every ?name= of the query. */
struct names {
    char **v;
    size_t n;
    bool too_many;
};

static enum MHD_Result collect_name(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    struct names *ns = cls;

    (void)kind;
    if (strcmp(key, "name") != 0 || value == NULL)
        return MHD_YES;
    if (ns->n >= 256) {
        ns->too_many = true;
        return MHD_NO;
    }
    ns->v = xrealloc(ns->v, (ns->n + 2) * sizeof *ns->v);
    ns->v[ns->n++] = xstrdup(value);
    ns->v[ns->n] = NULL;
    return MHD_YES;
}

static void names_free(struct names *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        free(ns->v[i]);
    free(ns->v);
}

static enum MHD_Result do_status(struct MHD_Connection *c)
{
    struct names ns = {0};
    struct ctl_result r;

    (void)MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_name, &ns);
    if (ns.too_many) {
        names_free(&ns);
        return respond_error(c, MHD_HTTP_BAD_REQUEST, "at most 256 names");
    }
    /* Every name goes after "--": a name is never taken for an option. */
    char **argv = xcalloc(ns.n + 2, sizeof *argv);
    size_t argc = 0;
    if (ns.n > 0)
        argv[argc++] = (char *)"--";
    for (size_t i = 0; i < ns.n; i++)
        argv[argc++] = ns.v[i];
    int rc = ctl_call("status", argv, argc, QUICK_TIMEOUT_MS, &r);
    free(argv);
    names_free(&ns);
    if (rc == -1 || !r.ok) {
        enum MHD_Result ret = respond_result(c, &r);
        ctl_result_free(&r);
        return ret;
    }
    struct proto_proc *procs = xcalloc(r.n + 1, sizeof *procs);
    size_t n = 0;
    for (size_t i = 0; i < r.n; i++) {
        if (r.lines[i].kind == PROTO_REPLY_PROC)
            procs[n++] = r.lines[i].proc;
    }
    /* The very document of `tend status --json`: the same function writes it. */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    enum MHD_Result ret;
    if (f == NULL) {
        ret = respond_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    } else {
        client_format_status(f, procs, n, true);
        if (n == 0)
            fputs("[]\n", f);
        fclose(f);
        ret = respond_owned(c, MHD_HTTP_OK, "application/json", buf, len);
        buf = NULL;
    }
    free(buf);
    free(procs);
    ctl_result_free(&r);
    return ret;
}

static enum MHD_Result do_version(struct MHD_Connection *c)
{
    struct ctl_result r;
    const struct proto_info *info = NULL;

    if (ctl_call("info", NULL, 0, QUICK_TIMEOUT_MS, &r) == -1 || !r.ok) {
        enum MHD_Result ret = respond_result(c, &r);
        ctl_result_free(&r);
        return ret;
    }
    for (size_t i = 0; i < r.n; i++) {
        if (r.lines[i].kind == PROTO_REPLY_INFO)
            info = &r.lines[i].info;
    }
    if (info == NULL) {
        ctl_result_free(&r);
        return respond_error(c, MHD_HTTP_BAD_GATEWAY, "tend sent no info line");
    }
    struct str o;
    str_init(&o);
    str_append(&o, "{\"version\":");
    json_str(&o, info->version);
    str_appendf(&o, ",\"pid\":%d,\"uptime\":%llu,\"started\":%llu,\"processes\":%llu,"
                    "\"web_version\":",
                (int)info->pid, info->uptime_s, info->started_s, info->nprocs);
    json_str(&o, TEND_VERSION);
    str_append_char(&o, '}');
    ctl_result_free(&r);
    return respond_json(c, MHD_HTTP_OK, &o);
}

/* ---- /metrics ---- */

static void metric_head(struct str *o, const char *name, const char *type, const char *help)
{
    str_appendf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void proc_labels(struct str *o, const struct proto_proc *p)
{
    str_append(o, "{name=\"");
    prom_label(o, p->name);
    str_append(o, "\",group=\"");
    prom_label(o, p->group);
    str_append(o, "\"}");
}

static const char *const states[] = {"STOPPED", "STARTING", "RUNNING", "BACKOFF",
                                     "STOPPING", "EXITED", "FATAL", "UNKNOWN"};

static enum MHD_Result do_metrics(struct MHD_Connection *c)
{
    struct ctl_result st, in;
    const struct proto_info *info = NULL;

    if (ctl_call("status", NULL, 0, QUICK_TIMEOUT_MS, &st) == -1 || !st.ok) {
        enum MHD_Result ret = respond_result(c, &st);
        ctl_result_free(&st);
        return ret;
    }
    if (ctl_call("info", NULL, 0, QUICK_TIMEOUT_MS, &in) == -1 || !in.ok) {
        enum MHD_Result ret = respond_result(c, &in);
        ctl_result_free(&st);
        ctl_result_free(&in);
        return ret;
    }
    for (size_t i = 0; i < in.n; i++) {
        if (in.lines[i].kind == PROTO_REPLY_INFO)
            info = &in.lines[i].info;
    }
    struct str o;
    str_init(&o);

    metric_head(&o, "tend_process_state", "gauge",
                "1 for the state the process is in, 0 for the others.");
    for (size_t i = 0; i < st.n; i++) {
        const struct proto_proc *p = &st.lines[i].proc;
        if (st.lines[i].kind != PROTO_REPLY_PROC)
            continue;
        for (size_t s = 0; s < sizeof states / sizeof states[0]; s++) {
            str_append(&o, "tend_process_state{name=\"");
            prom_label(&o, p->name);
            str_append(&o, "\",group=\"");
            prom_label(&o, p->group);
            str_appendf(&o, "\",state=\"%s\"} %d\n", states[s], strcmp(p->state, states[s]) == 0);
        }
    }
#define EACH_PROC(body)                                                     \
    for (size_t i = 0; i < st.n; i++) {                                     \
        const struct proto_proc *p = &st.lines[i].proc;                     \
        if (st.lines[i].kind != PROTO_REPLY_PROC)                           \
            continue;                                                       \
        body                                                                \
    }
    metric_head(&o, "tend_process_up", "gauge", "1 when the process is RUNNING, else 0.");
    EACH_PROC(str_append(&o, "tend_process_up"); proc_labels(&o, p);
              str_appendf(&o, " %d\n", strcmp(p->state, "RUNNING") == 0);)
    metric_head(&o, "tend_process_restarts_total", "counter",
                "Times tend restarted the process.");
    EACH_PROC(str_append(&o, "tend_process_restarts_total"); proc_labels(&o, p);
              str_appendf(&o, " %llu\n", p->restarts);)
    metric_head(&o, "tend_process_start_time_seconds", "gauge",
                "Start of the running process, seconds since the epoch (absent when none).");
    EACH_PROC(if (p->pid > 0 && p->started_s > 0) {
        str_append(&o, "tend_process_start_time_seconds");
        proc_labels(&o, p);
        str_appendf(&o, " %llu\n", p->started_s);
    })
    metric_head(&o, "tend_process_last_exit_code", "gauge",
                "Exit code of the last run that exited (absent if none did).");
    EACH_PROC(int code; if (sscanf(p->exit, "exit %d", &code) == 1) {
        str_append(&o, "tend_process_last_exit_code");
        proc_labels(&o, p);
        str_appendf(&o, " %d\n", code);
    })
    metric_head(&o, "tend_process_last_exit_signal", "gauge",
                "Signal that ended the last run killed by one (absent if none was).");
    EACH_PROC(int sig; if (sscanf(p->exit, "signal %d", &sig) == 1) {
        str_append(&o, "tend_process_last_exit_signal");
        proc_labels(&o, p);
        str_appendf(&o, " %d\n", sig);
    })
    metric_head(&o, "tend_process_healthy", "gauge",
                "1 when the health check passes, 0 when failing (absent without a check).");
    EACH_PROC(if (p->health[0] != '\0') {
        str_append(&o, "tend_process_healthy");
        proc_labels(&o, p);
        str_appendf(&o, " %d\n", strcmp(p->health, "ok") == 0);
    })
    metric_head(&o, "tend_process_log_written_bytes_total", "counter",
                "Bytes of output written to the process's log files.");
    EACH_PROC(str_append(&o, "tend_process_log_written_bytes_total"); proc_labels(&o, p);
              str_appendf(&o, " %llu\n", p->written_bytes);)
    metric_head(&o, "tend_process_log_dropped_bytes_total", "counter",
                "Bytes of output dropped because the log could not be written.");
    EACH_PROC(str_append(&o, "tend_process_log_dropped_bytes_total"); proc_labels(&o, p);
              str_appendf(&o, " %llu\n", p->dropped_bytes);)
#undef EACH_PROC
    if (info != NULL) {
        metric_head(&o, "tend_build_info", "gauge", "Always 1; the version is a label.");
        str_append(&o, "tend_build_info{version=\"");
        prom_label(&o, info->version);
        str_append(&o, "\"} 1\n");
        metric_head(&o, "tend_start_time_seconds", "gauge",
                    "Start of the supervisor, seconds since the epoch.");
        str_appendf(&o, "tend_start_time_seconds %llu\n", info->started_s);
        metric_head(&o, "tend_processes", "gauge", "Processes tend supervises.");
        str_appendf(&o, "tend_processes %llu\n", info->nprocs);
        metric_head(&o, "tend_reloads_total", "counter", "Configuration reloads applied.");
        str_appendf(&o, "tend_reloads_total %llu\n", info->reloads);
        metric_head(&o, "tend_supervisor_restarts_total", "counter",
                    "Supervisors the keeper started again after one died or was upgraded.");
        str_appendf(&o, "tend_supervisor_restarts_total %llu\n", info->supervisor_restarts);
        metric_head(&o, "tend_keeper_up", "gauge", "Whether the keeper (the safety net) runs.");
        str_appendf(&o, "tend_keeper_up %d\n", info->keeper_pid != 0);
        metric_head(&o, "tend_alert_runs_total", "counter", "Alert commands started.");
        str_appendf(&o, "tend_alert_runs_total %llu\n", info->alert_runs);
        metric_head(&o, "tend_alert_failures_total", "counter",
                    "Alert commands that failed, were killed or timed out.");
        str_appendf(&o, "tend_alert_failures_total %llu\n", info->alert_failures);
        metric_head(&o, "tend_cpu_seconds_total", "counter",
                    "User and system CPU time of the supervisor.");
        str_appendf(&o, "tend_cpu_seconds_total %llu.%06llu\n", info->cpu_us / 1000000,
                    info->cpu_us % 1000000);
        metric_head(&o, "tend_resident_memory_bytes", "gauge",
                    "Resident memory of the supervisor.");
        str_appendf(&o, "tend_resident_memory_bytes %llu\n", info->rss_bytes);
    }
    ctl_result_free(&st);
    ctl_result_free(&in);
    size_t len = o.len;
    return respond_owned(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                         str_release(&o), len);
}

/* ---- logs ---- */

/* -n N and --stderr from ?lines= and ?stream=; NULL, or why the query is bad. */
static const char *log_args(struct MHD_Connection *c, char *lines, size_t lines_len,
                            bool *use_stderr)
{
    const char *n = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "lines");
    const char *stream = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "stream");
    unsigned long long v = 100;

    if (n != NULL && parse_uint(n, MAX_LOG_LINES, &v) == -1)
        return "lines= wants a number from 0 to 10000";
    snprintf(lines, lines_len, "%llu", v);
    *use_stderr = false;
    if (stream != NULL) {
        if (strcmp(stream, "stderr") == 0)
            *use_stderr = true;
        else if (strcmp(stream, "stdout") != 0)
            return "stream= is stdout or stderr";
    }
    return NULL;
}

static enum MHD_Result do_log(struct MHD_Connection *c, const char *name)
{
    char lines[24];
    bool use_stderr;
    const char *bad = log_args(c, lines, sizeof lines, &use_stderr);
    struct ctl_result r;

    if (bad != NULL)
        return respond_error(c, MHD_HTTP_BAD_REQUEST, "%s", bad);
    char *argv[] = {(char *)"-n", lines, (char *)"--stderr", (char *)"--", (char *)name};
    char *argv_out[] = {(char *)"-n", lines, (char *)"--", (char *)name};
    if (use_stderr)
        (void)ctl_call("logs", argv, 5, QUICK_TIMEOUT_MS, &r);
    else
        (void)ctl_call("logs", argv_out, 4, QUICK_TIMEOUT_MS, &r);
    if (!r.ok) {
        enum MHD_Result ret = respond_result(c, &r);
        ctl_result_free(&r);
        return ret;
    }
    struct str o;
    str_init(&o);
    str_append(&o, "{\"name\":");
    json_str(&o, name);
    str_append(&o, ",\"lines\":[");
    bool first = true;
    for (size_t i = 0; i < r.n; i++) {
        if (r.lines[i].kind != PROTO_REPLY_DATA)
            continue;
        if (!first)
            str_append_char(&o, ',');
        first = false;
        json_str(&o, r.lines[i].text);
    }
    str_append(&o, "]}");
    ctl_result_free(&r);
    return respond_json(c, MHD_HTTP_OK, &o);
}

/* A live follow: Server-Sent Events fed by `logs -f`. Each log line is one event whose data
 * is the line as a JSON string (so no byte of it can break the event framing). */
struct follow {
    int fd;
    bool plain;          /* supervisord's /logtail: the bare lines, no event framing */
    int client_fd;       /* plain: the HTTP client's socket, watched for a hangup */
    struct proto_splitter sp;
    struct str pending;  /* formatted events not yet given to MHD */
    size_t sent;         /* bytes of pending already given */
    bool ended;
};

static void follow_free(void *cls)
{
    struct follow *f = cls;

    atomic_fetch_sub(&followers, 1);
    fd_close_quiet(f->fd);
    proto_splitter_free(&f->sp);
    str_free(&f->pending);
    free(f);
}

/* Turns complete reply lines into events. */
static void follow_drain(struct follow *f)
{
    const char *line;
    size_t len;
    int got;

    while (!f->ended && (got = proto_splitter_next(&f->sp, &line, &len)) == 1) {
        struct proto_reply r;
        if (proto_parse_reply(line, len, &r) == -1) {
            str_append(&f->pending, "event: end\ndata: \"malformed reply from tend\"\n\n");
            f->ended = true;
            break;
        }
        if (f->plain) {
            if (r.kind == PROTO_REPLY_DATA) {
                str_append(&f->pending, r.text);
                str_append_char(&f->pending, '\n');
            }
            f->ended = r.kind == PROTO_REPLY_OK || r.kind == PROTO_REPLY_ERR;
        } else if (r.kind == PROTO_REPLY_DATA || r.kind == PROTO_REPLY_MSG) {
            str_append(&f->pending, r.kind == PROTO_REPLY_DATA ? "data: " : "event: note\ndata: ");
            json_str(&f->pending, r.text);
            str_append(&f->pending, "\n\n");
        } else if (r.kind == PROTO_REPLY_OK || r.kind == PROTO_REPLY_ERR) {
            str_append(&f->pending, "event: end\ndata: ");
            json_str(&f->pending, r.kind == PROTO_REPLY_OK ? "" : r.text);
            str_append(&f->pending, "\n\n");
            f->ended = true;
        }
        proto_reply_free(&r);
    }
    if (!f->ended && got == -1) {
        if (!f->plain)
            str_append(&f->pending, "event: end\ndata: \"line too long\"\n\n");
        f->ended = true;
    }
}

/* MHD asks for more of the stream. This connection has its own thread, so waiting here for
 * tend to send a line stalls nobody else; the wait is cut into one-second slices to notice a
 * shutdown, and every SSE_KEEPALIVE_S a comment goes out, which is how a client that left is
 * found (the write fails and MHD ends the connection). */
static ssize_t follow_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct follow *f = cls;
    int idle_s = 0;

    (void)pos;
    for (;;) {
        if (f->sent < f->pending.len) {
            size_t n = f->pending.len - f->sent;
            if (n > max)
                n = max;
            memcpy(buf, str_cstr(&f->pending) + f->sent, n);
            f->sent += n;
            if (f->sent == f->pending.len) {
                str_clear(&f->pending);
                f->sent = 0;
            }
            return (ssize_t)n;
        }
        if (f->ended || atomic_load(&stopping))
            return MHD_CONTENT_READER_END_OF_STREAM;
        struct pollfd pfd = {.fd = f->fd, .events = POLLIN};
        int ready = poll(&pfd, 1, 1000);
        if (ready == -1 && errno != EINTR)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (ready <= 0) {
            if (f->plain && f->client_fd != -1) {
                /* No keepalive can go into bare text: ask the socket whether the client
                 * hung up instead. */
                struct pollfd cp = {.fd = f->client_fd, .events = POLLRDHUP};
                if (poll(&cp, 1, 0) == 1 && (cp.revents & (POLLRDHUP | POLLHUP | POLLERR)))
                    return MHD_CONTENT_READER_END_WITH_ERROR;
            }
            if (++idle_s >= SSE_KEEPALIVE_S && !f->plain) {
                str_append(&f->pending, ": keepalive\n\n");
                idle_s = 0;
            }
            continue;
        }
        ssize_t n = proto_splitter_read(&f->sp, f->fd);
        if (n == 0 || (n == -1 && errno != EINTR && errno != EAGAIN)) {
            follow_drain(f);
            if (!f->ended) {
                if (!f->plain)
                    str_append(&f->pending,
                               "event: end\ndata: \"tend closed the connection\"\n\n");
                f->ended = true;
            }
            continue;
        }
        follow_drain(f);
    }
}

static enum MHD_Result do_follow(struct MHD_Connection *c, const char *name)
{
    char lines[24];
    bool use_stderr;
    const char *bad = log_args(c, lines, sizeof lines, &use_stderr);

    if (bad != NULL)
        return respond_error(c, MHD_HTTP_BAD_REQUEST, "%s", bad);
    char *argv[] = {(char *)"-f", (char *)"-n", lines, (char *)"--stderr", (char *)"--",
                    (char *)name};
    char *argv_out[] = {(char *)"-f", (char *)"-n", lines, (char *)"--", (char *)name};
    if (atomic_fetch_add(&followers, 1) >= MAX_FOLLOWERS) {
        atomic_fetch_sub(&followers, 1);
        return respond_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                             "too many live log streams (%d); try again later", MAX_FOLLOWERS);
    }
    int fd = use_stderr ? ctl_open("logs", argv, 6) : ctl_open("logs", argv_out, 5);
    if (fd == -1) {
        atomic_fetch_sub(&followers, 1);
        return respond_error(c, MHD_HTTP_BAD_GATEWAY, "cannot reach tend: %s", strerror(errno));
    }
    struct follow *f = xcalloc(1, sizeof *f);
    f->fd = fd;
    proto_splitter_init(&f->sp, PROTO_MAX_LINE);
    str_init(&f->pending);
    str_append(&f->pending, "retry: 2000\n\n");
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, follow_read, f, follow_free);
    if (r == NULL) {
        follow_free(f);
        return MHD_NO;
    }
    add_security_headers(r);
    (void)MHD_add_response_header(r, "Content-Type", "text/event-stream");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* supervisorctl's `tail -f`: GET /logtail/NAME[/stdout|/stderr], supervisord's plain text
 * stream of a process's log (the last lines, then each line as it is written). */
static enum MHD_Result do_logtail(struct MHD_Connection *c, const char *rest)
{
    char name[513];
    const char *slash = strrchr(rest, '/');
    bool use_stderr = false;

    if (slash != NULL && (strcmp(slash, "/stderr") == 0 || strcmp(slash, "/stdout") == 0)) {
        use_stderr = strcmp(slash, "/stderr") == 0;
    } else {
        slash = rest + strlen(rest);
    }
    if (slash == rest || slash - rest > 512)
        return respond_error(c, MHD_HTTP_NOT_FOUND, "no such process");
    memcpy(name, rest, (size_t)(slash - rest));
    name[slash - rest] = '\0';
    bool known;
    struct ctl_result err;
    if (known_name(name, &known, &err) == -1) {
        enum MHD_Result ret = respond_result(c, &err);
        ctl_result_free(&err);
        return ret;
    }
    if (!known || strcmp(name, CONFIG_WEB_NAME) == 0)
        return respond_error(c, MHD_HTTP_NOT_FOUND, "no such process");
    char *argv[] = {(char *)"-f", (char *)"-n", (char *)"10", (char *)"--stderr", (char *)"--",
                    name};
    char *argv_out[] = {(char *)"-f", (char *)"-n", (char *)"10", (char *)"--", name};
    if (atomic_fetch_add(&followers, 1) >= MAX_FOLLOWERS) {
        atomic_fetch_sub(&followers, 1);
        return respond_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                             "too many live log streams (%d); try again later", MAX_FOLLOWERS);
    }
    int fd = use_stderr ? ctl_open("logs", argv, 6) : ctl_open("logs", argv_out, 5);
    if (fd == -1) {
        atomic_fetch_sub(&followers, 1);
        return respond_error(c, MHD_HTTP_BAD_GATEWAY, "cannot reach tend: %s", strerror(errno));
    }
    struct follow *f = xcalloc(1, sizeof *f);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    f->fd = fd;
    f->plain = true;
    f->client_fd = ci != NULL ? ci->connect_fd : -1;
    proto_splitter_init(&f->sp, PROTO_MAX_LINE);
    str_init(&f->pending);
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, follow_read, f, follow_free);
    if (r == NULL) {
        follow_free(f);
        return MHD_NO;
    }
    add_security_headers(r);
    (void)MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- XML-RPC ---- */

/* NULL when an XML-RPC POST may be served, else why not. A browser page elsewhere cannot
 * send text/xml without a CORS preflight (which is never granted), so the type is the CSRF
 * guard here, as the X-Tend-Request header is for the JSON API; supervisorctl and the
 * XML-RPC libraries all send it. */
static const char *rpc_problem(struct MHD_Connection *c)
{
    const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    const char *site = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Site");
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");

    if (type == NULL || (strncasecmp(type, "text/xml", 8) != 0 &&
                         strncasecmp(type, "application/xml", 15) != 0))
        return "XML-RPC wants Content-Type: text/xml";
    if (site != NULL && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0)
        return "cross-site request refused";
    if (origin != NULL &&
        (host == NULL || strncmp(origin, "http://", 7) != 0 || strcmp(origin + 7, host) != 0))
        return "cross-origin request refused";
    return NULL;
}

static enum MHD_Result do_xmlrpc(struct MHD_Connection *c, struct req *rq)
{
    const char *why = rpc_problem(c);
    char *out;
    size_t len;

    if (why != NULL)
        return respond_error(c, MHD_HTTP_BAD_REQUEST, "%s", why);
    xmlrpc_handle(str_cstr(&rq->data), rq->data.len, &out, &len);
    return respond_owned(c, MHD_HTTP_OK, "text/xml", out, len);
}

/* ---- changes ---- */

static enum MHD_Result do_change(struct MHD_Connection *c, const char *name, const char *action)
{
    struct ctl_result r;

    if (strcmp(action, "signal") == 0) {
        const char *sig = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "signal");
        if (sig == NULL || sig[0] == '\0' || strlen(sig) > 16 || sig[0] == '-')
            return respond_error(c, MHD_HTTP_BAD_REQUEST, "signal= names a signal, e.g. HUP");
        char *argv[] = {(char *)sig, (char *)name};
        (void)ctl_call("signal", argv, 2, QUICK_TIMEOUT_MS, &r);
    } else {
        char *argv[] = {(char *)"--", (char *)name};
        (void)ctl_call(action, argv, 2, SLOW_TIMEOUT_MS, &r);
    }
    enum MHD_Result ret = respond_result(c, &r);
    ctl_result_free(&r);
    return ret;
}

/* ---- routing ---- */

static bool is_get(const char *method)
{
    return strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
}

static enum MHD_Result method_not_allowed(struct MHD_Connection *c, const char *allow)
{
    static const char body[] = "{\"ok\":false,\"error\":\"method not allowed\"}\n";
    struct MHD_Response *r = MHD_create_response_from_buffer(
        sizeof body - 1, (void *)(uintptr_t)body, MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return MHD_NO;
    add_security_headers(r);
    (void)MHD_add_response_header(r, "Content-Type", "application/json");
    (void)MHD_add_response_header(r, "Allow", allow);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, r);
    MHD_destroy_response(r);
    return ret;
}

/* /api/v1/processes/NAME/ACTION[/follow]: the NAME is one path segment. */
static enum MHD_Result route_process(struct MHD_Connection *c, const char *method,
                                     const char *rest)
{
    const char *slash = strchr(rest, '/');
    if (slash == NULL || slash == rest || slash - rest > 512)
        return respond_error(c, MHD_HTTP_NOT_FOUND, "no such endpoint");
    char name[513];
    memcpy(name, rest, (size_t)(slash - rest));
    name[slash - rest] = '\0';
    const char *action = slash + 1;
    bool change = strcmp(action, "start") == 0 || strcmp(action, "stop") == 0 ||
                  strcmp(action, "restart") == 0 || strcmp(action, "signal") == 0;
    bool log = strcmp(action, "log") == 0, follow = strcmp(action, "log/follow") == 0;

    if (!change && !log && !follow)
        return respond_error(c, MHD_HTTP_NOT_FOUND, "no such endpoint");
    if (change && strcmp(method, MHD_HTTP_METHOD_POST) != 0)
        return method_not_allowed(c, "POST");
    if (!change && !is_get(method))
        return method_not_allowed(c, "GET, HEAD");
    if (change) {
        const char *why = csrf_problem(c);
        if (why != NULL)
            return respond_error(c, MHD_HTTP_FORBIDDEN, "%s", why);
    }
    bool known;
    struct ctl_result err;
    if (known_name(name, &known, &err) == -1) {
        enum MHD_Result ret = respond_result(c, &err);
        ctl_result_free(&err);
        return ret;
    }
    if (!known)
        return respond_error(c, MHD_HTTP_NOT_FOUND, "no such process or group");
    if (log)
        return do_log(c, name);
    if (follow)
        return do_follow(c, name);
    return do_change(c, name, action);
}

static enum MHD_Result route(struct MHD_Connection *c, const char *url, const char *method)
{
    static const char api[] = "/api/v1/";

    if (strcmp(url, "/") == 0 || strcmp(url, "/app.js") == 0 || strcmp(url, "/app.css") == 0) {
        if (!is_get(method))
            return method_not_allowed(c, "GET, HEAD");
        if (url[1] == '\0')
            return respond(c, MHD_HTTP_OK, "text/html; charset=utf-8", web_asset_index_html,
                           web_asset_index_html_len);
        if (strcmp(url, "/app.js") == 0)
            return respond(c, MHD_HTTP_OK, "text/javascript; charset=utf-8", web_asset_app_js,
                           web_asset_app_js_len);
        return respond(c, MHD_HTTP_OK, "text/css; charset=utf-8", web_asset_app_css,
                       web_asset_app_css_len);
    }
    if (strcmp(url, "/favicon.ico") == 0) /* browsers ask; there is none, say so quietly */
        return respond(c, MHD_HTTP_NO_CONTENT, "image/x-icon", "", 0);
    if (strncmp(url, "/logtail/", 9) == 0) {
        if (!is_get(method))
            return method_not_allowed(c, "GET, HEAD");
        return do_logtail(c, url + 9);
    }
    if (strcmp(url, "/RPC2") == 0)
        return method_not_allowed(c, "POST");
    if (strcmp(url, "/metrics") == 0) {
        if (!is_get(method))
            return method_not_allowed(c, "GET, HEAD");
        return do_metrics(c);
    }
    if (strncmp(url, api, sizeof api - 1) != 0)
        return respond_error(c, MHD_HTTP_NOT_FOUND, "no such page");
    const char *path = url + sizeof api - 1;
    if (strcmp(path, "status") == 0) {
        if (!is_get(method))
            return method_not_allowed(c, "GET, HEAD");
        return do_status(c);
    }
    if (strcmp(path, "version") == 0) {
        if (!is_get(method))
            return method_not_allowed(c, "GET, HEAD");
        return do_version(c);
    }
    if (strcmp(path, "reload") == 0) {
        if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
            return method_not_allowed(c, "POST");
        const char *why = csrf_problem(c);
        if (why != NULL)
            return respond_error(c, MHD_HTTP_FORBIDDEN, "%s", why);
        struct ctl_result r;
        (void)ctl_call("reload", NULL, 0, SLOW_TIMEOUT_MS, &r);
        enum MHD_Result ret = respond_result(c, &r);
        ctl_result_free(&r);
        return ret;
    }
    if (strncmp(path, "processes/", 10) == 0)
        return route_process(c, method, path + 10);
    return respond_error(c, MHD_HTTP_NOT_FOUND, "no such endpoint");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    struct req *rq = *req_cls;

    (void)cls;
    (void)version;
    if (rq == NULL) {
        rq = xcalloc(1, sizeof *rq); /* headers are in; the body (if any) follows */
        str_init(&rq->data);
        *req_cls = rq;
        rq->rpc = strcmp(url, "/RPC2") == 0 && strcmp(method, MHD_HTTP_METHOD_POST) == 0;
        if (rq->rpc) {
            /* Refused before the body is read: an oversized one is never taken in, and a
             * stranger's body is not stored at all. */
            const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
            unsigned long long n;
            if (cl != NULL && (parse_uint(cl, ULLONG_MAX, &n) == -1 || n > XMLRPC_MAX_BODY))
                return MHD_NO; /* closes the connection */
            bool tried;
            if (!authorised(c, &tried)) {
                if (tried)
                    slow_down_failure();
                return respond_unauthorised(c);
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (rq->rpc) {
            if (rq->data.len + *upload_data_size > XMLRPC_MAX_BODY)
                return MHD_NO; /* a chunked body that grew too large: closes the connection */
            str_append_len(&rq->data, upload_data, *upload_data_size);
        }
        rq->body += *upload_data_size; /* other endpoints read and drop it */
        *upload_data_size = 0;
        return MHD_YES;
    }
    bool tried;
    if (!authorised(c, &tried)) {
        if (tried)
            slow_down_failure();
        return respond_unauthorised(c);
    }
    if (!host_allowed(c))
        return respond_error(c, 421 /* Misdirected Request */,
                             "Host must be an address or localhost (no password is set)");
    if (rq->rpc)
        return do_xmlrpc(c, rq);
    if (rq->body > MAX_BODY)
        return respond_error(c, 413 /* Content Too Large */, "request body too large");
    return route(c, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct req *rq = *req_cls;
    if (rq != NULL)
        str_free(&rq->data);
    free(rq);
    *req_cls = NULL;
}

/* ---- start-up ---- */

/* Reads a secret from the environment into a digest and wipes it there. */
static int take_secret(const char *var, uint8_t digest[SHA1_LEN], bool sha_form_allowed)
{
    char *v = getenv(var);

    if (v == NULL)
        return 0;
    size_t len = strlen(v);
    if (sha_form_allowed && len == 45 && strncmp(v, "{SHA}", 5) == 0) {
        for (int i = 0; i < SHA1_LEN; i++) {
            int hi = hexval(v[5 + 2 * i]), lo = hexval(v[6 + 2 * i]);
            if (hi < 0 || lo < 0) {
                fprintf(stderr, "tend-web: %s: {SHA} needs 40 hex digits\n", var);
                return -1;
            }
            digest[i] = (uint8_t)(hi << 4 | lo);
        }
    } else {
        sha1(v, len, digest);
    }
    explicit_bzero(v, len);
    (void)unsetenv(var); /* cannot fail for a valid name */
    return 1;
}

static bool loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a))
            return a->s6_addr[12] == 127;
        return IN6_IS_ADDR_LOOPBACK(a);
    }
    return false;
}

/* Binds HOST:PORT ("*" for every address, "[v6]" in brackets). Returns the socket or -1
 * after printing why. */
static int listen_on(const char *spec)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE |
                                                                     AI_NUMERICSERV};
    struct addrinfo *res = NULL;

    if (colon == NULL || (size_t)(colon - spec) >= sizeof host) {
        fprintf(stderr, "tend-web: TEND_WEB_LISTEN '%s' is not HOST:PORT\n", spec);
        return -1;
    }
    const char *h = spec;
    size_t hlen = (size_t)(colon - spec);
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    int e = getaddrinfo(strcmp(host, "*") == 0 ? NULL : host, colon + 1, &hints, &res);
    if (e != 0) {
        fprintf(stderr, "tend-web: cannot resolve %s: %s\n", spec, gai_strerror(e));
        return -1;
    }
    if (!loopback(res->ai_addr) && !web.auth) {
        fprintf(stderr, "tend-web: refusing to listen on %s without a password\n", spec);
        freeaddrinfo(res);
        return -1;
    }
    int one = 1;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == -1 ||
        bind(fd, res->ai_addr, res->ai_addrlen) == -1 || listen(fd, 128) == -1) {
        fprintf(stderr, "tend-web: cannot listen on %s: %s\n", spec, strerror(errno));
        fd_close_quiet(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss = {.ss_family = AF_UNSPEC};
    socklen_t sl = sizeof ss;
    char shown[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &in->sin_addr, shown, sizeof shown);
            port = ntohs(in->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &in6->sin6_addr, shown, sizeof shown);
            port = ntohs(in6->sin6_port);
        }
    }
    /* Tests and people read the port from here when port=0 asked for any. */
    printf("tend-web[%d]: listening on http://%s%s%s:%d/\n", (int)getpid(),
           ss.ss_family == AF_INET6 ? "[" : "", shown, ss.ss_family == AF_INET6 ? "]" : "", port);
    fflush(stdout);
    return fd;
}

/* ---- HTTP clients of tend's control socket ---- */

static pthread_t door_thread;
static bool door_running;

/* Receives one descriptor sent with SCM_RIGHTS: 1 with *out, 0 at end of file, -1 on an
 * error or when something else came (an err line from a supervisor that does not know
 * httpfd). */
static int recv_fd(int sock, int *out)
{
    char byte = '\0';
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                         .msg_controllen = sizeof u.buf};
    ssize_t n;

    do
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    while (n == -1 && errno == EINTR);
    if (n <= 0)
        return (int)n;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    if (cm == NULL || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
        cm->cmsg_len != CMSG_LEN(sizeof(int)) || byte != 'h')
        return -1;
    memcpy(out, CMSG_DATA(cm), sizeof(int));
    return 1;
}

/* Holds the httpfd channel to tend open and gives each client that comes through it to MHD
 * as a connection of its own. Reconnects (once a second) when tend is restarted; ends
 * within a second of SIGTERM. */
static void *door_main(void *arg)
{
    struct MHD_Daemon *d = arg;
    bool said = false;

    while (!atomic_load(&stopping)) {
        int fd = ctl_open("httpfd", NULL, 0);
        while (fd != -1 && !atomic_load(&stopping)) {
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            int ready = poll(&pfd, 1, 1000);
            if (ready <= 0)
                continue; /* a timeout (look at `stopping`) or EINTR */
            int cfd = -1;
            int got = recv_fd(fd, &cfd);
            if (got != 1) {
                if (got == -1 && !said)
                    fprintf(stderr, "tend-web: tend refused to hand over its HTTP clients\n");
                said = said || got == -1;
                break;
            }
            struct sockaddr_un un = {.sun_family = AF_UNIX};
            /* MHD closes cfd itself when it cannot take it. */
            if (MHD_add_connection(d, cfd, (const struct sockaddr *)&un,
                                   (socklen_t)sizeof un.sun_family) != MHD_YES)
                fprintf(stderr, "tend-web: cannot take a client of the control socket: %s\n",
                        strerror(errno));
        }
        fd_close_quiet(fd);
        struct timespec ts = {1, 0};
        while (!atomic_load(&stopping) && nanosleep(&ts, &ts) == -1 && errno == EINTR)
            ;
    }
    return NULL;
}

int main(void)
{
    /* No core dump, no ptrace or /proc/PID/environ reading by other processes of this
     * (shared, unprivileged) user: the password is in the environment until wiped below. */
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); /* cannot fail with these arguments */
    if (geteuid() == 0 || getuid() == 0) {
        fprintf(stderr, "tend-web: refusing to run as root (set [inet_http_server] user=)\n");
        return 1;
    }
    const char *sock = getenv("TEND_WEB_SOCKET");
    const char *listen_spec = getenv("TEND_WEB_LISTEN");
    const char *unix_rpc = getenv("TEND_WEB_UNIX");
    bool serve_unix = unix_rpc != NULL && strcmp(unix_rpc, "1") == 0;
    if (sock == NULL || (listen_spec == NULL && !serve_unix)) {
        fprintf(stderr, "tend-web: TEND_WEB_SOCKET and TEND_WEB_LISTEN (or TEND_WEB_UNIX=1) "
                        "must be set (tend sets them when it starts tend-web from "
                        "[inet_http_server] or [unix_http_server])\n");
        return 2;
    }
    int u = take_secret("TEND_WEB_USERNAME", web.user_digest, false);
    int p = take_secret("TEND_WEB_PASSWORD", web.pass_digest, true);
    if (u == -1 || p == -1)
        return 2;
    if (u != p) {
        fprintf(stderr, "tend-web: TEND_WEB_USERNAME and TEND_WEB_PASSWORD go together\n");
        return 2;
    }
    web.auth = u == 1;
    ctl_init(sock);
    /* A status of 1,000 processes is a few hundred kB: by default glibc maps and unmaps
     * each such block, page faults and all, on every request. Keep them in the heap. */
    (void)mallopt(M_MMAP_THRESHOLD, 16 << 20); /* a tuning hint: failure changes nothing */
    (void)mallopt(M_TRIM_THRESHOLD, 32 << 20);

    /* One descriptor per connection plus a few: take the hard limit, fit the cap to it. */
    struct rlimit rl;
    unsigned conns = MAX_CONNECTIONS;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl); /* raising to the hard limit needs no privilege */
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < MAX_CONNECTIONS * 2 + 64)
            conns = rl.rlim_cur > 128 ? (unsigned)(rl.rlim_cur - 64) / 2 : 32;
    }

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGPIPE);
    /* Blocked in every thread (they inherit the mask); the main thread waits for them. */
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    int lfd = -1;
    if (listen_spec != NULL && (lfd = listen_on(listen_spec)) == -1)
        return 1;
    /* Without a TCP port, MHD serves only the clients the door thread adds. */
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
            MHD_USE_ITC | (lfd == -1 ? MHD_USE_NO_LISTEN_SOCKET : 0),
        0, NULL, NULL, on_request, NULL, MHD_OPTION_CONNECTION_LIMIT, conns,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY, MHD_OPTION_THREAD_STACK_SIZE,
        (size_t)THREAD_STACK, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        /* Last, so that without a socket the list simply ends here (MHD refuses the option
         * together with MHD_USE_NO_LISTEN_SOCKET). */
        lfd == -1 ? MHD_OPTION_END : MHD_OPTION_LISTEN_SOCKET, lfd, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "tend-web: cannot start the HTTP server\n");
        fd_close_quiet(lfd);
        return 1;
    }
    if (serve_unix) {
        door_running = pthread_create(&door_thread, NULL, door_main, d) == 0;
        if (!door_running)
            fprintf(stderr, "tend-web: cannot serve the control socket's HTTP clients\n");
    }
    fprintf(stderr, "tend-web: serving (at most %u connections, %s%s)\n", conns,
            lfd == -1 ? "" : web.auth ? "password required" : "no password",
            !door_running ? "" : lfd == -1 ? "XML-RPC on the control socket"
                                           : ", XML-RPC on the control socket too");
    for (;;) {
        int sig;
        if (sigwait(&set, &sig) != 0 || sig == SIGPIPE)
            continue;
        if (sig == SIGHUP)
            continue; /* nothing to reread: the settings come from tend */
        break;
    }
    atomic_store(&stopping, true);
    if (door_running)
        (void)pthread_join(door_thread, NULL); /* it ends within a second */
    MHD_stop_daemon(d); /* closes lfd; followers notice `stopping` within a second */
#if defined(__SANITIZE_ADDRESS__)
    /* LeakSanitizer inspects the process from a helper that must be allowed to ptrace it.
     * Only in sanitizer builds, and only now: every thread is gone, the secrets with them. */
    (void)prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
#endif
    return 0;
}
