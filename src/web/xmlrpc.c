/* xmlrpc: supervisord's XML-RPC interface on top of the control protocol (see xmlrpc.h).
 *
 * A request goes: body -> expat -> a small bounded element tree -> typed values -> one entry
 * of the method table (checked for count and types of its parameters) -> control requests
 * -> one value written as XML. Faults carry supervisord's codes and its "NAME: detail" text.
 *
 * tend-web's own process ("tend-web", tend's HTTP front) is not one of the user's programs:
 * every method here leaves it out, so `supervisorctl stop all` cannot cut its own line. */
#include <errno.h>
#include <expat.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "proto.h"
#include "util/str.h"
#include "web/ctl.h"
#include "web/xmlrpc.h"

#define QUICK_MS 10000   /* status, logs, signal */
#define SLOW_MS 600000   /* start, stop, reload: tend answers when done */
#define API_VERSION "3.0" /* supervisord's rpcinterface API_VERSION: supervisorctl checks it */

/* ---- the element tree ---- */

struct node {
    char *name;
    struct str text;
    struct node **kids;
    size_t nkids, cap;
    struct node *parent;
};

struct parse {
    XML_Parser p;
    struct node *root, *cur;
    size_t depth, nodes;
    const char *why; /* set when we stopped the parser */
};

static void node_free(struct node *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->nkids; i++)
        node_free(n->kids[i]);
    free(n->kids);
    free(n->name);
    str_free(&n->text);
    free(n);
}

static void stop(struct parse *ps, const char *why)
{
    if (ps->why == NULL)
        ps->why = why;
    (void)XML_StopParser(ps->p, XML_FALSE); /* fails only if already stopped: fine */
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    struct parse *ps = ud;

    (void)atts; /* XML-RPC has no attributes; any there are ignored */
    if (ps->why != NULL)
        return;
    if (++ps->depth > XMLRPC_MAX_DEPTH) {
        stop(ps, "nested too deeply");
        return;
    }
    if (++ps->nodes > XMLRPC_MAX_NODES) {
        stop(ps, "too many elements");
        return;
    }
    struct node *n = xcalloc(1, sizeof *n);
    n->name = xstrdup(name);
    str_init(&n->text);
    n->parent = ps->cur;
    if (ps->cur == NULL) {
        ps->root = n;
    } else {
        if (ps->cur->nkids == ps->cur->cap) {
            ps->cur->cap = ps->cur->cap ? ps->cur->cap * 2 : 4;
            ps->cur->kids = xrealloc(ps->cur->kids, ps->cur->cap * sizeof *ps->cur->kids);
        }
        ps->cur->kids[ps->cur->nkids++] = n;
    }
    ps->cur = n;
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    struct parse *ps = ud;

    (void)name; /* expat checks that tags match */
    if (ps->why != NULL || ps->cur == NULL)
        return;
    ps->depth--;
    ps->cur = ps->cur->parent;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    struct parse *ps = ud;

    /* Bounded by the body: text comes from it byte for byte, as no entity can be declared. */
    if (ps->why == NULL && ps->cur != NULL && len > 0)
        str_append_len(&ps->cur->text, s, (size_t)len);
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal_subset;
    /* No DOCTYPE: so no entity can be declared, none expanded, none fetched. */
    stop(ud, "a DOCTYPE is not allowed");
}

static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int is_param,
                                   const XML_Char *value, int value_len, const XML_Char *base,
                                   const XML_Char *sysid, const XML_Char *pubid,
                                   const XML_Char *notation)
{
    (void)name;
    (void)is_param;
    (void)value;
    (void)value_len;
    (void)base;
    (void)sysid;
    (void)pubid;
    (void)notation;
    stop(ud, "entity declarations are not allowed");
}

static int XMLCALL on_external_entity(XML_Parser p, const XML_Char *context,
                                      const XML_Char *base, const XML_Char *sysid,
                                      const XML_Char *pubid)
{
    (void)p;
    (void)context;
    (void)base;
    (void)sysid;
    (void)pubid;
    return XML_STATUS_ERROR; /* never loaded */
}

/* ---- values ---- */

static void xv_free(struct xv *v)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < v->n; i++) {
        xv_free(v->items[i]);
        if (v->keys != NULL)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->s);
    free(v);
}

void xmlrpc_call_free(struct xmlrpc_call *call)
{
    for (size_t i = 0; i < call->nparams; i++)
        xv_free(call->params[i]);
    free(call->params);
    free(call->method);
    memset(call, 0, sizeof *call);
}

static bool only_space(const struct str *t)
{
    for (size_t i = 0; i < t->len; i++) {
        char c = str_cstr(t)[i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return false;
    }
    return true;
}

/* Element children only: whitespace between elements is layout. */
static bool is(const struct node *n, const char *name)
{
    return strcmp(n->name, name) == 0;
}

static struct xv *to_value(const struct node *n, const char **why);

static bool parse_ll(const char *s, long long min, long long max, long long *out)
{
    char *end;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    if (*s == '\0')
        return false;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
        end++;
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static struct xv *typed(const struct node *t, const char **why)
{
    struct xv *v = xcalloc(1, sizeof *v);
    const char *text = str_cstr(&t->text);

    if (t->nkids > 0 && !is(t, "array") && !is(t, "struct")) {
        *why = "a scalar value holds elements";
        goto bad;
    }
    if (is(t, "int") || is(t, "i4")) {
        v->type = XV_INT;
        if (!parse_ll(text, -2147483648LL, 2147483647LL, &v->i)) {
            *why = "an <int> that is not a 32-bit integer";
            goto bad;
        }
    } else if (is(t, "i8")) {
        v->type = XV_INT;
        if (!parse_ll(text, LLONG_MIN, LLONG_MAX, &v->i)) {
            *why = "an <i8> that is not a 64-bit integer";
            goto bad;
        }
    } else if (is(t, "boolean")) {
        v->type = XV_BOOL;
        if (!parse_ll(text, 0, 1, &v->i)) {
            *why = "a <boolean> that is not 0 or 1";
            goto bad;
        }
    } else if (is(t, "string") || is(t, "base64") || is(t, "dateTime.iso8601")) {
        v->type = XV_STRING;
        v->s = xstrdup(text);
    } else if (is(t, "double")) {
        char *end;
        v->type = XV_DOUBLE;
        (void)strtod(text, &end);
        if (end == text || *end != '\0') {
            *why = "a <double> that is not a number";
            goto bad;
        }
        v->s = xstrdup(text);
    } else if (is(t, "nil")) {
        v->type = XV_NIL;
    } else if (is(t, "array")) {
        v->type = XV_ARRAY;
        if (t->nkids != 1 || !is(t->kids[0], "data")) {
            *why = "an <array> without its one <data>";
            goto bad;
        }
        const struct node *d = t->kids[0];
        v->items = xcalloc(d->nkids + 1, sizeof *v->items);
        for (size_t i = 0; i < d->nkids; i++) {
            if (!is(d->kids[i], "value")) {
                *why = "<data> holds something other than <value>";
                goto bad;
            }
            if ((v->items[v->n] = to_value(d->kids[i], why)) == NULL)
                goto bad;
            v->n++;
        }
    } else if (is(t, "struct")) {
        v->type = XV_STRUCT;
        v->items = xcalloc(t->nkids + 1, sizeof *v->items);
        v->keys = xcalloc(t->nkids + 1, sizeof *v->keys);
        for (size_t i = 0; i < t->nkids; i++) {
            const struct node *m = t->kids[i];
            if (!is(m, "member") || m->nkids != 2 || !is(m->kids[0], "name") ||
                !is(m->kids[1], "value") || m->kids[0]->nkids != 0) {
                *why = "a <struct> member is not <name> and <value>";
                goto bad;
            }
            if ((v->items[v->n] = to_value(m->kids[1], why)) == NULL)
                goto bad;
            v->keys[v->n] = xstrdup(str_cstr(&m->kids[0]->text));
            v->n++;
        }
    } else {
        *why = "an unknown value type";
        goto bad;
    }
    return v;
bad:
    xv_free(v);
    return NULL;
}

static struct xv *to_value(const struct node *n, const char **why)
{
    if (n->nkids == 0) { /* no type element: a string */
        struct xv *v = xcalloc(1, sizeof *v);
        v->type = XV_STRING;
        v->s = xstrdup(str_cstr(&n->text));
        return v;
    }
    if (n->nkids != 1 || !only_space(&n->text)) {
        *why = "a <value> holds more than one thing";
        return NULL;
    }
    return typed(n->kids[0], why);
}

static const char *tree_to_call(const struct node *root, struct xmlrpc_call *call)
{
    const char *why = NULL;

    if (!is(root, "methodCall"))
        return "the document is not a <methodCall>";
    if (root->nkids < 1 || root->nkids > 2 || !is(root->kids[0], "methodName") ||
        root->kids[0]->nkids != 0)
        return "a <methodCall> is a <methodName> and an optional <params>";
    char *name = xstrdup(str_cstr(&root->kids[0]->text));
    call->method = xstrdup(str_trim(name));
    free(name);
    if (root->nkids == 2) {
        const struct node *ps = root->kids[1];
        if (!is(ps, "params"))
            return "a <methodCall> is a <methodName> and an optional <params>";
        call->params = xcalloc(ps->nkids + 1, sizeof *call->params);
        for (size_t i = 0; i < ps->nkids; i++) {
            const struct node *p = ps->kids[i];
            if (!is(p, "param") || p->nkids != 1 || !is(p->kids[0], "value"))
                return "a <param> is one <value>";
            if ((call->params[call->nparams] = to_value(p->kids[0], &why)) == NULL)
                return why;
            call->nparams++;
        }
    }
    return NULL;
}

int xmlrpc_parse(const char *body, size_t len, struct xmlrpc_call *call, char *why,
                 size_t why_len)
{
    struct parse ps = {0};
    const char *problem = NULL;

    memset(call, 0, sizeof *call);
    if (len > XMLRPC_MAX_BODY) {
        snprintf(why, why_len, "the request is over %d bytes", XMLRPC_MAX_BODY);
        return -1;
    }
    ps.p = XML_ParserCreate("UTF-8");
    if (ps.p == NULL) {
        snprintf(why, why_len, "out of memory");
        return -1;
    }
    XML_SetUserData(ps.p, &ps);
    XML_SetElementHandler(ps.p, on_start, on_end);
    XML_SetCharacterDataHandler(ps.p, on_text);
    XML_SetStartDoctypeDeclHandler(ps.p, on_doctype);
    XML_SetEntityDeclHandler(ps.p, on_entity_decl);
    XML_SetExternalEntityRefHandler(ps.p, on_external_entity);
    (void)XML_SetParamEntityParsing(ps.p, XML_PARAM_ENTITY_PARSING_NEVER);
#if defined(XML_DTD) && (XML_MAJOR_VERSION > 2 || (XML_MAJOR_VERSION == 2 && XML_MINOR_VERSION >= 4))
    /* A second line behind the DOCTYPE refusal: expat's own amplification limit. */
    (void)XML_SetBillionLaughsAttackProtectionMaximumAmplification(ps.p, 2.0f);
    (void)XML_SetBillionLaughsAttackProtectionActivationThreshold(ps.p, 64 * 1024);
#endif
    if (XML_Parse(ps.p, body, (int)len, XML_TRUE) != XML_STATUS_OK) {
        if (ps.why != NULL)
            problem = ps.why;
        else
            problem = XML_ErrorString(XML_GetErrorCode(ps.p));
        if (problem == NULL)
            problem = "malformed XML";
        snprintf(why, why_len, "not XML-RPC: %s (line %lu)", problem,
                 (unsigned long)XML_GetCurrentLineNumber(ps.p));
    } else if (ps.why != NULL) {
        snprintf(why, why_len, "not XML-RPC: %s", ps.why);
        problem = ps.why;
    } else if (ps.root == NULL) {
        problem = "empty";
        snprintf(why, why_len, "not XML-RPC: an empty document");
    } else if ((problem = tree_to_call(ps.root, call)) != NULL || call->method == NULL) {
        problem = problem != NULL ? problem : "no method name";
        snprintf(why, why_len, "not XML-RPC: %s", problem);
    }
    XML_ParserFree(ps.p);
    node_free(ps.root);
    if (problem != NULL) {
        xmlrpc_call_free(call);
        return -1;
    }
    return 0;
}

/* ---- writing ---- */

void xmlrpc_escape(struct str *o, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;

    while (p < end) {
        unsigned char c = *p;
        if (c == '&') {
            str_append(o, "&amp;");
            p++;
        } else if (c == '<') {
            str_append(o, "&lt;");
            p++;
        } else if (c == '>') {
            str_append(o, "&gt;");
            p++;
        } else if (c == '\r') {
            str_append(o, "&#13;"); /* a raw CR would be read back as LF */
            p++;
        } else if (c < 0x20 && c != '\t' && c != '\n') {
            str_append_char(o, '?'); /* XML 1.0 has no way to carry it */
            p++;
        } else if (c < 0x80) {
            str_append_char(o, (char)c);
            p++;
        } else {
            size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 && c <= 0xef ? 3
                       : c >= 0xc2 && c <= 0xdf ? 2 : 0;
            size_t k = 1;
            while (n > 0 && k < n && p + k < end && (p[k] & 0xc0) == 0x80)
                k++;
            /* Overlong forms, surrogates and beyond U+10FFFF are not characters either. */
            bool bad = n == 0 || k != n || (c == 0xe0 && p[1] < 0xa0) ||
                       (c == 0xed && p[1] >= 0xa0) || (c == 0xf0 && p[1] < 0x90) ||
                       (c == 0xf4 && p[1] >= 0x90) ||
                       (c == 0xef && p[1] == 0xbf && (p[2] == 0xbe || p[2] == 0xbf));
            if (bad) {
                str_append(o, "\xef\xbf\xbd");
                p++;
            } else {
                str_append_len(o, (const char *)p, n);
                p += n;
            }
        }
    }
}

static void w_str(struct str *o, const char *s)
{
    str_append(o, "<value><string>");
    xmlrpc_escape(o, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
    str_append(o, "</string></value>");
}

static void w_int(struct str *o, long long v)
{
    /* XML-RPC's <int> is 32 bits: supervisord caps its timestamps the same way. */
    if (v > 2147483647LL)
        v = 2147483647LL;
    if (v < -2147483648LL)
        v = -2147483648LL;
    str_appendf(o, "<value><int>%lld</int></value>", v);
}

static void w_bool(struct str *o, bool v)
{
    str_appendf(o, "<value><boolean>%d</boolean></value>", v ? 1 : 0);
}

static void w_array_open(struct str *o)
{
    str_append(o, "<value><array><data>");
}

static void w_array_close(struct str *o)
{
    str_append(o, "</data></array></value>");
}

static void w_member(struct str *o, const char *name)
{
    str_append(o, "<member><name>");
    xmlrpc_escape(o, name, strlen(name));
    str_append(o, "</name>");
}

static void m_str(struct str *o, const char *name, const char *v)
{
    w_member(o, name);
    w_str(o, v);
    str_append(o, "</member>");
}

static void m_int(struct str *o, const char *name, long long v)
{
    w_member(o, name);
    w_int(o, v);
    str_append(o, "</member>");
}

static void m_bool(struct str *o, const char *name, bool v)
{
    w_member(o, name);
    w_bool(o, v);
    str_append(o, "</member>");
}

static const char *fault_name(int code)
{
    switch (code) {
    case XF_UNKNOWN_METHOD: return "UNKNOWN_METHOD";
    case XF_INCORRECT_PARAMETERS: return "INCORRECT_PARAMETERS";
    case XF_BAD_ARGUMENTS: return "BAD_ARGUMENTS";
    case XF_SIGNATURE_UNSUPPORTED: return "SIGNATURE_UNSUPPORTED";
    case XF_SHUTDOWN_STATE: return "SHUTDOWN_STATE";
    case XF_BAD_NAME: return "BAD_NAME";
    case XF_BAD_SIGNAL: return "BAD_SIGNAL";
    case XF_NO_FILE: return "NO_FILE";
    case XF_NOT_EXECUTABLE: return "NOT_EXECUTABLE";
    case XF_FAILED: return "FAILED";
    case XF_ABNORMAL_TERMINATION: return "ABNORMAL_TERMINATION";
    case XF_SPAWN_ERROR: return "SPAWN_ERROR";
    case XF_ALREADY_STARTED: return "ALREADY_STARTED";
    case XF_NOT_RUNNING: return "NOT_RUNNING";
    case XF_SUCCESS: return "SUCCESS";
    case XF_ALREADY_ADDED: return "ALREADY_ADDED";
    case XF_STILL_RUNNING: return "STILL_RUNNING";
    case XF_CANT_REREAD: return "CANT_REREAD";
    case XF_PARSE_ERROR: return "PARSE_ERROR";
    default: return "UNKNOWN";
    }
}

static void w_fault_struct(struct str *o, int code, const char *text)
{
    str_append(o, "<value><struct>");
    m_int(o, "faultCode", code);
    m_str(o, "faultString", text);
    str_append(o, "</struct></value>");
}

/* ---- one call ---- */

struct rpc {
    struct str out;   /* the result value, as XML */
    int fault;        /* XF_NONE, or the fault (out is then discarded) */
    char text[1024];  /* the fault's string: "NAME: detail" as supervisord writes it */
    bool in_multicall;
};

static void fault(struct rpc *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fault(struct rpc *r, int code, const char *fmt, ...)
{
    char detail[900];

    r->fault = code;
    detail[0] = '\0';
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, sizeof detail, fmt, ap);
        va_end(ap);
    }
    if (detail[0] != '\0')
        snprintf(r->text, sizeof r->text, "%s: %s", fault_name(code), detail);
    else
        snprintf(r->text, sizeof r->text, "%s", fault_name(code));
}

/* A control request's failure as a fault: no reply at all is FAILED, a busy supervisor is
 * shutting down (supervisord's SHUTDOWN_STATE). */
static void fault_from(struct rpc *r, const struct ctl_result *c)
{
    if (!c->transport && c->err == PROTO_ERR_BUSY)
        fault(r, XF_SHUTDOWN_STATE, NULL);
    else if (!c->transport && c->err == PROTO_ERR_NO_SUCH_PROCESS)
        fault(r, XF_BAD_NAME, "%s", c->text);
    else if (!c->transport && c->err == PROTO_ERR_BAD_SIGNAL)
        fault(r, XF_BAD_SIGNAL, "%s", c->text);
    else
        fault(r, XF_FAILED, "%s", c->text);
}

/* ---- processes, as supervisord names them ---- */

/* One process: tend's record, its group and its own name (the part after "GROUP:"). */
struct pinfo {
    const struct proto_proc *p;
    const char *group;
    const char *name;
};

struct plist {
    struct ctl_result res;
    struct pinfo *v;
    size_t n;
};

static void plist_free(struct plist *l)
{
    ctl_result_free(&l->res);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_pinfo(const void *a, const void *b)
{
    const struct pinfo *x = a, *y = b;
    int c = strcmp(x->group, y->group);
    return c != 0 ? c : strcmp(x->name, y->name);
}

/* Every process but tend-web, sorted by group then name (supervisord's lexical order). */
static int plist_load(struct rpc *r, struct plist *l)
{
    char *argv[] = {(char *)"--detail"};

    memset(l, 0, sizeof *l);
    if (ctl_call("status", argv, 1, QUICK_MS, &l->res) == -1 || !l->res.ok) {
        fault_from(r, &l->res);
        ctl_result_free(&l->res);
        return -1;
    }
    l->v = xcalloc(l->res.n + 1, sizeof *l->v);
    for (size_t i = 0; i < l->res.n; i++) {
        const struct proto_proc *p = &l->res.lines[i].proc;
        if (l->res.lines[i].kind != PROTO_REPLY_PROC || strcmp(p->group, CONFIG_WEB_NAME) == 0)
            continue;
        const char *colon = strchr(p->name, ':');
        l->v[l->n++] = (struct pinfo){p, p->group, colon != NULL ? colon + 1 : p->name};
    }
    qsort(l->v, l->n, sizeof *l->v, cmp_pinfo);
    return 0;
}

static bool group_exists(const struct plist *l, const char *group)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->v[i].group, group) == 0)
            return true;
    }
    return false;
}

/* supervisord's split_namespec: "G:P" is process P of group G, "G:*" or "G:" the group G,
 * "P" process P of group P. *whole is set for a group. NULL with a BAD_NAME fault when the
 * name is unknown. */
static const struct pinfo *resolve(struct rpc *r, const struct plist *l, const char *spec,
                                   char *group, size_t glen, bool *whole)
{
    const char *colon = strchr(spec, ':');
    const char *proc;

    *whole = false;
    if (colon != NULL) {
        snprintf(group, glen, "%.*s", (int)(colon - spec), spec);
        proc = colon + 1;
        if (proc[0] == '\0' || strcmp(proc, "*") == 0)
            *whole = true;
    } else {
        snprintf(group, glen, "%s", spec);
        proc = spec;
    }
    if (!group_exists(l, group)) {
        fault(r, XF_BAD_NAME, "%s", spec);
        return NULL;
    }
    if (*whole)
        return NULL;
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->v[i].group, group) == 0 && strcmp(l->v[i].name, proc) == 0)
            return &l->v[i];
    }
    fault(r, XF_BAD_NAME, "%s", spec);
    return NULL;
}

static int state_code(const char *s)
{
    static const struct {
        const char *name;
        int code;
    } t[] = {{"STOPPED", 0},   {"STARTING", 10}, {"RUNNING", 20}, {"BACKOFF", 30},
             {"STOPPING", 40}, {"EXITED", 100},  {"FATAL", 200}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (strcmp(s, t[i].name) == 0)
            return t[i].code;
    }
    return 1000; /* UNKNOWN */
}

static bool is_running(const struct proto_proc *p)
{
    return strcmp(p->state, "RUNNING") == 0 || strcmp(p->state, "STARTING") == 0 ||
           strcmp(p->state, "BACKOFF") == 0;
}

static bool is_signallable(const struct proto_proc *p)
{
    return strcmp(p->state, "RUNNING") == 0 || strcmp(p->state, "STARTING") == 0 ||
           strcmp(p->state, "STOPPING") == 0;
}

/* supervisord's description column (its _interpretProcessInfo), from the same facts. */
static void describe(const struct pinfo *pi, char *buf, size_t len)
{
    const struct proto_proc *p = pi->p;
    int code = state_code(p->state);

    if (code == 20) {
        unsigned long long up = p->uptime_s, days = up / 86400;
        char d[48] = "";
        if (days > 0)
            snprintf(d, sizeof d, "%llu day%s, ", days, days == 1 ? "" : "s");
        up %= 86400;
        snprintf(buf, len, "pid %d, uptime %s%llu:%02llu:%02llu", (int)p->pid, d, up / 3600,
                 up / 60 % 60, up % 60);
    } else if (code == 200 || code == 30) {
        if (p->reason[0] != '\0')
            snprintf(buf, len, "%s", p->reason);
        else
            snprintf(buf, len, "unknown error (try \"tail %s\")", pi->name);
    } else if (code == 0 || code == 100) {
        if (p->laststart_s != 0) {
            time_t stop_s = (time_t)(p->laststop_s != 0 ? p->laststop_s : p->laststart_s);
            struct tm tm;
            if (localtime_r(&stop_s, &tm) == NULL || strftime(buf, len, "%b %d %I:%M %p", &tm) == 0)
                snprintf(buf, len, "%s", "");
        } else {
            snprintf(buf, len, "Not started");
        }
    } else {
        buf[0] = '\0';
    }
}

static void w_process_info(struct str *o, const struct pinfo *pi)
{
    const struct proto_proc *p = pi->p;
    char desc[256];
    int code = state_code(p->state), exitstatus = 0;

    if (sscanf(p->exit, "exit %d", &exitstatus) != 1)
        exitstatus = 0;
    describe(pi, desc, sizeof desc);
    str_append(o, "<value><struct>");
    m_str(o, "name", pi->name);
    m_str(o, "group", pi->group);
    m_int(o, "start", (long long)p->laststart_s);
    m_int(o, "stop", (long long)p->laststop_s);
    m_int(o, "now", (long long)time(NULL));
    m_int(o, "state", code);
    m_str(o, "statename", p->state);
    m_str(o, "spawnerr", code == 200 || code == 30 ? p->reason : "");
    m_int(o, "exitstatus", exitstatus);
    m_str(o, "logfile", p->stdout_log);
    m_str(o, "stdout_logfile", p->stdout_log);
    m_str(o, "stderr_logfile", p->stderr_log);
    m_int(o, "pid", p->pid);
    m_str(o, "description", desc);
    str_append(o, "</struct></value>");
}

/* One entry of the array that the group and all methods answer. */
static void w_status(struct str *o, const struct pinfo *pi, int status, const char *desc)
{
    str_append(o, "<value><struct>");
    m_str(o, "name", pi->name);
    m_str(o, "group", pi->group);
    m_int(o, "status", status);
    m_str(o, "description", desc);
    str_append(o, "</struct></value>");
}

/* tend's display name of a process: what control requests take. */
static const char *display(const struct pinfo *pi)
{
    return pi->p->name;
}

/* ---- the methods ---- */

typedef void method_fn(struct rpc *r, struct xv *const *a, size_t n);

static void m_api_version(struct rpc *r, struct xv *const *a, size_t n)
{
    (void)a;
    (void)n;
    w_str(&r->out, API_VERSION);
}

static void m_supervisor_version(struct rpc *r, struct xv *const *a, size_t n)
{
    struct ctl_result c;

    (void)a;
    (void)n;
    if (ctl_call("version", NULL, 0, QUICK_MS, &c) == -1 || !c.ok || c.n == 0) {
        fault_from(r, &c);
    } else {
        w_str(&r->out, c.lines[0].text);
    }
    ctl_result_free(&c);
}

static void m_identification(struct rpc *r, struct xv *const *a, size_t n)
{
    (void)a;
    (void)n;
    w_str(&r->out, "supervisor"); /* supervisord's default identifier */
}

static void m_state(struct rpc *r, struct xv *const *a, size_t n)
{
    struct ctl_result c;

    (void)a;
    (void)n;
    /* A supervisor that answers runs; one shutting down says busy. */
    int rc = ctl_call("version", NULL, 0, QUICK_MS, &c);
    bool down = rc == 0 && !c.ok && c.err == PROTO_ERR_BUSY;
    ctl_result_free(&c);
    str_append(&r->out, "<value><struct>");
    m_int(&r->out, "statecode", down ? -1 : 1);
    m_str(&r->out, "statename", down ? "SHUTDOWN" : "RUNNING");
    str_append(&r->out, "</struct></value>");
}

static void m_pid(struct rpc *r, struct xv *const *a, size_t n)
{
    struct ctl_result c;
    long long pid;

    (void)a;
    (void)n;
    if (ctl_call("pid", NULL, 0, QUICK_MS, &c) == -1 || !c.ok || c.n == 0 ||
        !parse_ll(c.lines[0].text, 0, 2147483647LL, &pid))
        fault_from(r, &c);
    else
        w_int(&r->out, pid);
    ctl_result_free(&c);
}

/* logread into a string value; the first msg line is the file's size. */
static int log_read(struct rpc *r, const char *name, bool err_stream, long long offset,
                    long long length, struct str *data, long long *size)
{
    char off[24], len[24];
    char *argv[6];
    size_t argc = 0;
    struct ctl_result c;

    snprintf(off, sizeof off, "%lld", offset);
    snprintf(len, sizeof len, "%lld", length);
    if (err_stream)
        argv[argc++] = (char *)"--stderr";
    argv[argc++] = (char *)"--";
    argv[argc++] = off;
    argv[argc++] = len;
    if (name != NULL)
        argv[argc++] = (char *)name;
    if (ctl_call("logread", argv, argc, QUICK_MS, &c) == -1 || !c.ok) {
        if (!c.transport && c.err == PROTO_ERR_FAILED && strncmp(c.text, "no file", 7) == 0)
            fault(r, XF_NO_FILE, "%s", name != NULL ? name : "");
        else if (!c.transport && c.err == PROTO_ERR_BAD_ARGUMENT)
            fault(r, XF_BAD_ARGUMENTS, NULL);
        else
            fault_from(r, &c);
        ctl_result_free(&c);
        return -1;
    }
    *size = 0;
    bool first = true;
    for (size_t i = 0; i < c.n; i++) {
        if (c.lines[i].kind == PROTO_REPLY_MSG && first) {
            (void)parse_ll(c.lines[i].text, 0, LLONG_MAX, size); /* 0 if odd */
            first = false;
        } else if (c.lines[i].kind == PROTO_REPLY_DATA) {
            str_append(data, c.lines[i].text);
        }
    }
    ctl_result_free(&c);
    return 0;
}

static void read_log_value(struct rpc *r, const char *name, bool err_stream, long long offset,
                           long long length)
{
    struct str data;
    long long size;

    if (length < 0 || (offset < 0 && length != 0)) {
        fault(r, XF_BAD_ARGUMENTS, NULL);
        return;
    }
    str_init(&data);
    if (log_read(r, name, err_stream, offset, length, &data, &size) == 0)
        w_str(&r->out, str_cstr(&data));
    str_free(&data);
}

static void m_read_log(struct rpc *r, struct xv *const *a, size_t n)
{
    (void)n;
    read_log_value(r, NULL, false, a[0]->i, a[1]->i);
}

/* A verb without arguments whose success is supervisord's boolean true. */
static void bool_verb(struct rpc *r, const char *verb)
{
    struct ctl_result c;

    if (ctl_call(verb, NULL, 0, QUICK_MS, &c) == -1 || !c.ok)
        fault_from(r, &c);
    else
        w_bool(&r->out, true);
    ctl_result_free(&c);
}

static void m_clear_log(struct rpc *r, struct xv *const *a, size_t n)
{
    (void)a;
    (void)n;
    bool_verb(r, "clearlog");
}

static void m_shutdown(struct rpc *r, struct xv *const *a, size_t n)
{
    (void)a;
    (void)n;
    bool_verb(r, "shutdown");
}

/* supervisord's restart rereads its config and starts again; tend's equivalent that keeps
 * every unchanged program running is a reload. */
static void m_restart(struct rpc *r, struct xv *const *a, size_t n)
{
    struct ctl_result c;

    (void)a;
    (void)n;
    if (ctl_call("reload", NULL, 0, SLOW_MS, &c) == -1 || !c.ok)
        fault(r, XF_FAILED, "%s", c.text);
    else
        w_bool(&r->out, true);
    ctl_result_free(&c);
}

/* reread's three lists (added, changed, removed group names), leaving tend-web out. */
struct diff {
    struct ctl_result c;
    const char *added[256], *changed[256], *removed[256];
    size_t nadded, nchanged, nremoved;
};

static int reread(struct rpc *r, struct diff *d)
{
    memset(d, 0, sizeof *d);
    if (ctl_call("reread", NULL, 0, SLOW_MS, &d->c) == -1 || !d->c.ok) {
        if (!d->c.transport && d->c.err == PROTO_ERR_FAILED) {
            struct str why;
            str_init(&why);
            for (size_t i = 0; i < d->c.n; i++) {
                if (d->c.lines[i].kind == PROTO_REPLY_MSG) {
                    str_append(&why, why.len > 0 ? "; " : "");
                    str_append(&why, d->c.lines[i].text);
                }
            }
            fault(r, XF_CANT_REREAD, "%s", why.len > 0 ? str_cstr(&why) : d->c.text);
            str_free(&why);
        } else {
            fault_from(r, &d->c);
        }
        ctl_result_free(&d->c);
        return -1;
    }
    for (size_t i = 0; i < d->c.n; i++) {
        const char *t = d->c.lines[i].text;
        const char *sp = strchr(t, ' ');
        if (d->c.lines[i].kind != PROTO_REPLY_MSG || sp == NULL ||
            strcmp(sp + 1, CONFIG_WEB_NAME) == 0)
            continue;
        if (strncmp(t, "added ", 6) == 0 && d->nadded < 256)
            d->added[d->nadded++] = sp + 1;
        else if (strncmp(t, "changed ", 8) == 0 && d->nchanged < 256)
            d->changed[d->nchanged++] = sp + 1;
        else if (strncmp(t, "removed ", 8) == 0 && d->nremoved < 256)
            d->removed[d->nremoved++] = sp + 1;
    }
    return 0;
}

static bool listed(const char *const *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i], name) == 0)
            return true;
    }
    return false;
}

static void w_names(struct str *o, const char *const *v, size_t n)
{
    w_array_open(o);
    for (size_t i = 0; i < n; i++)
        w_str(o, v[i]);
    w_array_close(o);
}

static void pending_set(const struct diff *d);

static void m_reload_config(struct rpc *r, struct xv *const *a, size_t n)
{
    struct diff d;

    (void)a;
    (void)n;
    if (reread(r, &d) == -1)
        return;
    w_array_open(&r->out);
    w_array_open(&r->out);
    w_names(&r->out, d.added, d.nadded);
    w_names(&r->out, d.changed, d.nchanged);
    w_names(&r->out, d.removed, d.nremoved);
    w_array_close(&r->out);
    w_array_close(&r->out);
    pending_set(&d);
    ctl_result_free(&d.c);
}

/* tend applies a config as a whole: adding or removing one group applies every pending
 * change (a reload), which is what supervisorctl's update asks for group by group anyway. */
static int apply_config(struct rpc *r)
{
    struct ctl_result c;
    int rc = 0;

    if (ctl_call("reload", NULL, 0, SLOW_MS, &c) == -1 || !c.ok) {
        fault(r, XF_FAILED, "%s", c.text);
        rc = -1;
    }
    ctl_result_free(&c);
    return rc;
}

enum action { ACT_START, ACT_STOP, ACT_SIGNAL };
static int act_on(struct rpc *r, enum action act, const char *sig, bool wait,
                  const struct pinfo *const *v, size_t n);

/* The groups the last reloadConfig reported, kept until an add or remove takes each: tend
 * applies a config whole, so the first add or remove of `supervisorctl update` applies every
 * change, and the later ones must still answer as supervisord's would for what was reported. */
static pthread_mutex_t pending_lock = PTHREAD_MUTEX_INITIALIZER;
static char *pending[256];
static size_t npending;

static void pending_set(const struct diff *d)
{
    pthread_mutex_lock(&pending_lock);
    for (size_t i = 0; i < npending; i++)
        free(pending[i]);
    npending = 0;
    for (size_t i = 0; i < d->nadded && npending < 256; i++)
        pending[npending++] = xstrdup(d->added[i]);
    for (size_t i = 0; i < d->nchanged && npending < 256; i++)
        pending[npending++] = xstrdup(d->changed[i]);
    for (size_t i = 0; i < d->nremoved && npending < 256; i++)
        pending[npending++] = xstrdup(d->removed[i]);
    pthread_mutex_unlock(&pending_lock);
}

/* Whether name was reported and not yet taken; takes it when `take`. */
static bool pending_has(const char *name, bool take)
{
    bool found = false;

    pthread_mutex_lock(&pending_lock);
    for (size_t i = 0; i < npending && !found; i++) {
        if (strcmp(pending[i], name) != 0)
            continue;
        found = true;
        if (take) {
            free(pending[i]);
            pending[i] = pending[--npending];
        }
    }
    pthread_mutex_unlock(&pending_lock);
    return found;
}

/* supervisord's addProcessGroup starts the group's autostart processes: so does this, for
 * those of the group not running (a changed group that update stopped, say). */
static int start_group(struct rpc *r, const char *group)
{
    struct plist l;
    const struct pinfo **sel;
    size_t n = 0;
    int rc = 0;

    if (plist_load(r, &l) == -1)
        return -1;
    sel = xcalloc(l.n + 1, sizeof *sel);
    for (size_t i = 0; i < l.n; i++) {
        if (strcmp(l.v[i].group, group) == 0 && l.v[i].p->autostart && !is_running(l.v[i].p))
            sel[n++] = &l.v[i];
    }
    if (n > 0)
        rc = act_on(r, ACT_START, "", false, sel, n);
    free(sel);
    plist_free(&l);
    return rc;
}

static void m_add_group(struct rpc *r, struct xv *const *a, size_t n)
{
    struct diff d;
    const char *name = a[0]->s;

    (void)n;
    if (reread(r, &d) == -1)
        return;
    bool now = listed(d.added, d.nadded, name) || listed(d.changed, d.nchanged, name);
    bool reported = !listed(d.removed, d.nremoved, name) && pending_has(name, true);
    ctl_result_free(&d.c);
    if (now || reported) {
        if ((!now || apply_config(r) == 0) && start_group(r, name) == 0)
            w_bool(&r->out, true);
        return;
    }
    struct plist l;
    if (plist_load(r, &l) == 0) {
        if (group_exists(&l, name))
            fault(r, XF_ALREADY_ADDED, "%s", name);
        else
            fault(r, XF_BAD_NAME, "%s", name);
        plist_free(&l);
    }
}

static void m_remove_group(struct rpc *r, struct xv *const *a, size_t n)
{
    struct diff d;
    struct plist l;
    const char *name = a[0]->s;

    (void)n;
    if (plist_load(r, &l) == -1)
        return;
    if (!group_exists(&l, name)) {
        fault(r, XF_BAD_NAME, "%s", name);
        plist_free(&l);
        return;
    }
    for (size_t i = 0; i < l.n; i++) {
        if (strcmp(l.v[i].group, name) == 0 && is_running(l.v[i].p)) {
            fault(r, XF_STILL_RUNNING, "%s", name);
            plist_free(&l);
            return;
        }
    }
    plist_free(&l);
    if (reread(r, &d) == -1)
        return;
    if (listed(d.removed, d.nremoved, name)) {
        (void)pending_has(name, true);
        if (apply_config(r) == 0)
            w_bool(&r->out, true);
    } else if (listed(d.changed, d.nchanged, name) || pending_has(name, false)) {
        w_bool(&r->out, true); /* stopped; the add that follows applies and starts it */
    } else {
        fault(r, XF_FAILED, "%s: tend removes a group when its config no longer has it", name);
    }
    ctl_result_free(&d.c);
}

static void m_process_info(struct rpc *r, struct xv *const *a, size_t n)
{
    struct plist l;
    char group[512];
    bool whole;

    (void)n;
    if (plist_load(r, &l) == -1)
        return;
    const struct pinfo *pi = resolve(r, &l, a[0]->s, group, sizeof group, &whole);
    if (pi != NULL)
        w_process_info(&r->out, pi);
    else if (r->fault == XF_NONE)
        fault(r, XF_BAD_NAME, "%s", a[0]->s);
    plist_free(&l);
}

static void m_all_process_info(struct rpc *r, struct xv *const *a, size_t n)
{
    struct plist l;

    (void)a;
    (void)n;
    if (plist_load(r, &l) == -1)
        return;
    w_array_open(&r->out);
    for (size_t i = 0; i < l.n; i++)
        w_process_info(&r->out, &l.v[i]);
    w_array_close(&r->out);
    plist_free(&l);
}

struct cinfo {
    const char *group, *name;
    bool autostart;
    long long prio, gprio;
};

static int cmp_cinfo(const void *a, const void *b)
{
    const struct cinfo *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c != 0 ? c : strcmp(x->group, y->group);
}

/* supervisord lists the config it last read, sorted by process name, each marked in use when
 * its group runs: tend's is the config as reread now (what runs, if it cannot be read). */
static void m_all_config_info(struct rpc *r, struct xv *const *a, size_t n)
{
    struct plist l;
    struct diff d;

    (void)a;
    (void)n;
    if (plist_load(r, &l) == -1)
        return;
    if (reread(r, &d) == 0) {
        struct cinfo *v = xcalloc(d.c.n + 1, sizeof *v);
        size_t nv = 0;
        for (size_t i = 0; i < d.c.n; i++) {
            char *t = (char *)d.c.lines[i].text, *f[6];
            size_t nf = 0;
            if (d.c.lines[i].kind != PROTO_REPLY_MSG || strncmp(t, "config\t", 7) != 0)
                continue;
            for (char *save = NULL, *w = strtok_r(t, "\t", &save); w != NULL && nf < 6;
                 w = strtok_r(NULL, "\t", &save))
                f[nf++] = w;
            if (nf != 6 || strcmp(f[4], CONFIG_WEB_NAME) == 0)
                continue;
            v[nv++] = (struct cinfo){f[4], f[5], strcmp(f[1], "1") == 0, atoll(f[2]), atoll(f[3])};
        }
        qsort(v, nv, sizeof *v, cmp_cinfo);
        w_array_open(&r->out);
        for (size_t i = 0; i < nv; i++) {
            str_append(&r->out, "<value><struct>");
            m_str(&r->out, "name", v[i].name);
            m_str(&r->out, "group", v[i].group);
            m_bool(&r->out, "inuse", group_exists(&l, v[i].group));
            m_bool(&r->out, "autostart", v[i].autostart);
            m_int(&r->out, "process_prio", v[i].prio);
            m_int(&r->out, "group_prio", v[i].gprio);
            str_append(&r->out, "</struct></value>");
        }
        w_array_close(&r->out);
        free(v);
        ctl_result_free(&d.c);
        plist_free(&l);
        return;
    }
    r->fault = XF_NONE; /* the config cannot be read now: what runs is what there is */
    w_array_open(&r->out);
    for (size_t i = 0; i < l.n; i++) {
        const struct proto_proc *p = l.v[i].p;
        str_append(&r->out, "<value><struct>");
        m_str(&r->out, "name", l.v[i].name);
        m_str(&r->out, "group", l.v[i].group);
        m_bool(&r->out, "inuse", true);
        m_bool(&r->out, "autostart", p->autostart);
        m_int(&r->out, "process_prio", p->priority);
        m_int(&r->out, "group_prio", p->group_priority);
        m_str(&r->out, "stdout_logfile", p->stdout_log);
        m_str(&r->out, "stderr_logfile", p->stderr_log);
        str_append(&r->out, "</struct></value>");
    }
    w_array_close(&r->out);
    plist_free(&l);
}


/* Whether the action applies to a process in this state (supervisord's predicates): start
 * what is not running, stop what is, signal what can take one. */
static bool applies(enum action act, const struct proto_proc *p)
{
    switch (act) {
    case ACT_START: return !is_running(p);
    case ACT_STOP: return is_running(p);
    case ACT_SIGNAL: return is_signallable(p);
    }
    return false;
}

/* The signal parameter: a name (with or without SIG) or a number, as a word for tend. */
static bool signal_word(const struct xv *v, char *buf, size_t len)
{
    if (v->type == XV_INT) {
        if (v->i <= 0 || v->i > 64)
            return false;
        snprintf(buf, len, "%lld", v->i);
    } else {
        if (v->s[0] == '\0' || v->s[0] == '-' || strlen(v->s) > 16)
            return false;
        snprintf(buf, len, "%s", v->s);
    }
    return sig_from_name(buf) > 0;
}

/* Runs one control request on the given processes; with wait, tend answers when they have
 * reached their state. */
static int act_on(struct rpc *r, enum action act, const char *sig, bool wait,
                  const struct pinfo *const *v, size_t n)
{
    char **argv = xcalloc(n + 4, sizeof *argv);
    size_t argc = 0;
    struct ctl_result c;
    const char *verb = act == ACT_START ? "start" : act == ACT_STOP ? "stop" : "signal";

    if (act != ACT_SIGNAL && !wait)
        argv[argc++] = (char *)"--no-wait";
    argv[argc++] = (char *)"--"; /* before the signal too: "-9" is not an option */
    if (act == ACT_SIGNAL)
        argv[argc++] = (char *)sig;
    for (size_t i = 0; i < n; i++)
        argv[argc++] = (char *)display(v[i]);
    int rc = ctl_call(verb, argv, argc, act == ACT_SIGNAL ? QUICK_MS : SLOW_MS, &c);
    free(argv);
    /* err failed is an outcome, read per process from the states after; anything else is
     * the request's own failure. */
    if (rc == -1 || (!c.ok && c.err != PROTO_ERR_FAILED)) {
        fault_from(r, &c);
        ctl_result_free(&c);
        return -1;
    }
    ctl_result_free(&c);
    return 0;
}

/* The outcome for one process, from its state after the action. */
static int outcome(enum action act, const struct proto_proc *p, bool wait, char *desc,
                   size_t len)
{
    snprintf(desc, len, "OK");
    if (act == ACT_START && wait && strcmp(p->state, "RUNNING") != 0) {
        bool spawn = strstr(p->reason, "cannot") != NULL || strstr(p->reason, "exec") != NULL;
        snprintf(desc, len, "%s", p->reason[0] != '\0' ? p->reason : p->state);
        return spawn ? XF_SPAWN_ERROR : XF_ABNORMAL_TERMINATION;
    }
    if (act == ACT_STOP && wait && is_signallable(p)) {
        snprintf(desc, len, "%s", p->state);
        return XF_FAILED;
    }
    return XF_SUCCESS;
}

static bool param_wait(struct xv *const *a, size_t n, size_t at)
{
    return n <= at || a[at]->i != 0;
}

/* startProcess, stopProcess, signalProcess: one process (or, with "G:*", its group). */
static void act_one(struct rpc *r, enum action act, struct xv *const *a, size_t n);
static void act_many(struct rpc *r, enum action act, const char *group, struct xv *const *a,
                     size_t n);

static void act_one(struct rpc *r, enum action act, struct xv *const *a, size_t n)
{
    struct plist l;
    char group[512], sig[24] = "";
    bool whole;
    bool wait = act != ACT_SIGNAL && param_wait(a, n, 1);

    if (act == ACT_SIGNAL && !signal_word(a[1], sig, sizeof sig)) {
        fault(r, XF_BAD_SIGNAL, "%s", a[1]->type == XV_STRING ? a[1]->s : "?");
        return;
    }
    if (plist_load(r, &l) == -1)
        return;
    const struct pinfo *pi = resolve(r, &l, a[0]->s, group, sizeof group, &whole);
    if (whole) {
        plist_free(&l);
        act_many(r, act, group, a, n);
        return;
    }
    if (pi == NULL) {
        plist_free(&l);
        return;
    }
    if (act == ACT_START && is_running(pi->p)) {
        fault(r, XF_ALREADY_STARTED, "%s", a[0]->s);
    } else if (act != ACT_START && !applies(act, pi->p)) {
        fault(r, XF_NOT_RUNNING, "%s", a[0]->s);
    } else if (act_on(r, act, sig, wait, &pi, 1) == 0) {
        char name[600], desc[300];
        snprintf(name, sizeof name, "%s", display(pi));
        plist_free(&l);
        if (plist_load(r, &l) == -1)
            return;
        pi = resolve(r, &l, name, group, sizeof group, &whole);
        int st = pi != NULL ? outcome(act, pi->p, wait, desc, sizeof desc) : XF_SUCCESS;
        if (st == XF_SUCCESS)
            w_bool(&r->out, true);
        else
            fault(r, st, "%s", a[0]->s);
        r->fault = r->fault == XF_BAD_NAME ? XF_NONE : r->fault; /* gone meanwhile: done */
    }
    plist_free(&l);
}

/* The group and all methods: an array of {name, group, status, description}, one per
 * process the action applied to. group NULL: all. */
static void act_many(struct rpc *r, enum action act, const char *group, struct xv *const *a,
                     size_t n)
{
    struct plist l;
    char sig[24] = "";
    bool wait = act == ACT_SIGNAL ? false : param_wait(a, n, group != NULL ? 1 : 0);

    if (act == ACT_SIGNAL && !signal_word(a[group != NULL ? 1 : 0], sig, sizeof sig)) {
        fault(r, XF_BAD_SIGNAL, NULL);
        return;
    }
    if (plist_load(r, &l) == -1)
        return;
    if (group != NULL && !group_exists(&l, group)) {
        fault(r, XF_BAD_NAME, "%s", group);
        plist_free(&l);
        return;
    }
    const struct pinfo **sel = xcalloc(l.n + 1, sizeof *sel);
    char **names = xcalloc(l.n + 1, sizeof *names);
    size_t ns = 0;
    for (size_t i = 0; i < l.n; i++) {
        if ((group == NULL || strcmp(l.v[i].group, group) == 0) && applies(act, l.v[i].p)) {
            sel[ns] = &l.v[i];
            names[ns++] = xstrdup(display(&l.v[i]));
        }
    }
    if (ns > 0 && act_on(r, act, sig, wait, sel, ns) == -1)
        goto out;
    plist_free(&l);
    if (plist_load(r, &l) == -1)
        goto out;
    w_array_open(&r->out);
    for (size_t k = 0; k < ns; k++) {
        for (size_t i = 0; i < l.n; i++) {
            if (strcmp(display(&l.v[i]), names[k]) != 0)
                continue;
            char desc[300];
            int st = outcome(act, l.v[i].p, wait, desc, sizeof desc);
            w_status(&r->out, &l.v[i], st, desc);
        }
    }
    w_array_close(&r->out);
out:
    for (size_t k = 0; k < ns; k++)
        free(names[k]);
    free(names);
    free(sel);
    plist_free(&l);
}

static void m_start(struct rpc *r, struct xv *const *a, size_t n)
{
    act_one(r, ACT_START, a, n);
}

static void m_stop(struct rpc *r, struct xv *const *a, size_t n)
{
    act_one(r, ACT_STOP, a, n);
}

static void m_signal(struct rpc *r, struct xv *const *a, size_t n)
{
    act_one(r, ACT_SIGNAL, a, n);
}

static void m_start_group(struct rpc *r, struct xv *const *a, size_t n)
{
    act_many(r, ACT_START, a[0]->s, a, n);
}

static void m_stop_group(struct rpc *r, struct xv *const *a, size_t n)
{
    act_many(r, ACT_STOP, a[0]->s, a, n);
}

static void m_signal_group(struct rpc *r, struct xv *const *a, size_t n)
{
    act_many(r, ACT_SIGNAL, a[0]->s, a, n);
}

static void m_start_all(struct rpc *r, struct xv *const *a, size_t n)
{
    act_many(r, ACT_START, NULL, a, n);
}

static void m_stop_all(struct rpc *r, struct xv *const *a, size_t n)
{
    act_many(r, ACT_STOP, NULL, a, n);
}

static void m_signal_all(struct rpc *r, struct xv *const *a, size_t n)
{
    act_many(r, ACT_SIGNAL, NULL, a, n);
}

/* The named process, or a fault. */
static bool one_process(struct rpc *r, const char *spec, struct plist *l, char *name,
                        size_t len)
{
    char group[512];
    bool whole;

    if (plist_load(r, l) == -1)
        return false;
    const struct pinfo *pi = resolve(r, l, spec, group, sizeof group, &whole);
    if (pi == NULL) {
        if (r->fault == XF_NONE)
            fault(r, XF_BAD_NAME, "%s", spec);
        plist_free(l);
        return false;
    }
    snprintf(name, len, "%s", display(pi));
    return true;
}

static void read_process_log(struct rpc *r, struct xv *const *a, bool err_stream)
{
    struct plist l;
    char name[600];

    if (!one_process(r, a[0]->s, &l, name, sizeof name))
        return;
    plist_free(&l);
    read_log_value(r, name, err_stream, a[1]->i, a[2]->i);
}

static void m_read_stdout(struct rpc *r, struct xv *const *a, size_t n)
{
    (void)n;
    read_process_log(r, a, false);
}

static void m_read_stderr(struct rpc *r, struct xv *const *a, size_t n)
{
    (void)n;
    read_process_log(r, a, true);
}

/* supervisord's tailFile: at most length bytes ending at the end of the log, from offset on
 * when offset is further; [bytes, the log's size as the next offset, whether bytes were
 * skipped]. An unreadable log is ['', offset, false]. */
static void tail_process_log(struct rpc *r, struct xv *const *a, bool err_stream)
{
    struct plist l;
    char name[600];
    long long offset = a[1]->i, length = a[2]->i, size = 0;
    struct str data;

    if (!one_process(r, a[0]->s, &l, name, sizeof name))
        return;
    plist_free(&l);
    if (length < 0)
        length = 0;
    if (offset < 0)
        offset = 0;
    str_init(&data);
    if (length == 0 || log_read(r, name, err_stream, -length, 0, &data, &size) == -1) {
        if (r->fault == XF_BAD_NAME) {
            str_free(&data);
            return;
        }
        r->fault = XF_NONE;
        str_clear(&data);
        w_array_open(&r->out);
        w_str(&r->out, "");
        w_int(&r->out, length == 0 ? size : offset);
        w_bool(&r->out, false);
        w_array_close(&r->out);
        str_free(&data);
        return;
    }
    bool overflow = size > offset + length;
    long long start = size - (long long)data.len; /* where data begins in the file */
    size_t skip = offset > start ? (size_t)(offset - start) : 0;
    if (skip > data.len)
        skip = data.len;
    w_array_open(&r->out);
    w_str(&r->out, str_cstr(&data) + skip);
    w_int(&r->out, size);
    w_bool(&r->out, overflow);
    w_array_close(&r->out);
    str_free(&data);
}

static void m_tail_stdout(struct rpc *r, struct xv *const *a, size_t n)
{
    (void)n;
    tail_process_log(r, a, false);
}

static void m_tail_stderr(struct rpc *r, struct xv *const *a, size_t n)
{
    (void)n;
    tail_process_log(r, a, true);
}

static int clear_one(struct rpc *r, const char *name)
{
    struct ctl_result c;
    char *argv[] = {(char *)"--", (char *)name};
    int rc = 0;

    if (ctl_call("clearlog", argv, 2, QUICK_MS, &c) == -1 || !c.ok) {
        fault_from(r, &c);
        rc = -1;
    }
    ctl_result_free(&c);
    return rc;
}

static void m_clear_process(struct rpc *r, struct xv *const *a, size_t n)
{
    struct plist l;
    char name[600];

    (void)n;
    if (!one_process(r, a[0]->s, &l, name, sizeof name))
        return;
    plist_free(&l);
    if (clear_one(r, name) == 0)
        w_bool(&r->out, true);
}

static void m_clear_all(struct rpc *r, struct xv *const *a, size_t n)
{
    struct plist l;

    (void)a;
    (void)n;
    if (plist_load(r, &l) == -1)
        return;
    w_array_open(&r->out);
    for (size_t i = 0; i < l.n; i++) {
        struct rpc one = {.fault = XF_NONE};
        str_init(&one.out);
        int rc = clear_one(&one, display(&l.v[i]));
        w_status(&r->out, &l.v[i], rc == 0 ? XF_SUCCESS : XF_FAILED,
                 rc == 0 ? "OK" : one.text);
        str_free(&one.out);
    }
    w_array_close(&r->out);
    plist_free(&l);
}

/* tend connects no program's stdin (it reads /dev/null): supervisord's answer for a process
 * whose stdin cannot be written is NO_FILE. */
static void m_send_stdin(struct rpc *r, struct xv *const *a, size_t n)
{
    struct plist l;
    char group[512];
    bool whole;

    (void)n;
    if (plist_load(r, &l) == -1)
        return;
    const struct pinfo *pi = resolve(r, &l, a[0]->s, group, sizeof group, &whole);
    if (pi == NULL) {
        if (r->fault == XF_NONE)
            fault(r, XF_BAD_NAME, "%s", a[0]->s);
    } else if (!is_signallable(pi->p)) {
        fault(r, XF_NOT_RUNNING, "%s", a[0]->s);
    } else {
        fault(r, XF_NO_FILE, "%s: tend does not connect programs' stdin", a[0]->s);
    }
    plist_free(&l);
}

/* ---- the table ---- */

/* Parameter types: s string, i int, b boolean, x string or int (a signal), a array. A '|'
 * starts the optional ones. */
struct method {
    const char *name;
    const char *params;
    const char *signature; /* return type, then each parameter's, for methodSignature */
    method_fn *fn;
    const char *help;
};

static void m_list_methods(struct rpc *r, struct xv *const *a, size_t n);
static void m_method_help(struct rpc *r, struct xv *const *a, size_t n);
static void m_method_signature(struct rpc *r, struct xv *const *a, size_t n);
static void m_multicall(struct rpc *r, struct xv *const *a, size_t n);

/* Sorted by name: system.listMethods answers in this order. */
static const struct method methods[] = {
    {"supervisor.addProcessGroup", "s", "boolean string", m_add_group,
     "Apply the config for a group that reloadConfig reported added or changed (tend applies "
     "the whole reread config). @param string name @return boolean"},
    {"supervisor.clearAllProcessLogs", "", "array", m_clear_all,
     "Empty the log files of every process. @return array of status structs"},
    {"supervisor.clearLog", "", "boolean", m_clear_log,
     "Empty tend's own log file. @return boolean"},
    {"supervisor.clearProcessLog", "s", "boolean string", m_clear_process,
     "Empty the stdout and stderr log files of a process. @param string name @return boolean"},
    {"supervisor.clearProcessLogs", "s", "boolean string", m_clear_process,
     "Empty the stdout and stderr log files of a process. @param string name @return boolean"},
    {"supervisor.getAPIVersion", "", "string", m_api_version,
     "The version of the RPC API (supervisord's). @return string"},
    {"supervisor.getAllConfigInfo", "", "array", m_all_config_info,
     "Configuration of every process. @return array of structs"},
    {"supervisor.getAllProcessInfo", "", "array", m_all_process_info,
     "State of every process. @return array of structs"},
    {"supervisor.getIdentification", "", "string", m_identification,
     "The identifying string. @return string"},
    {"supervisor.getPID", "", "int", m_pid, "The supervisor's pid. @return int"},
    {"supervisor.getProcessInfo", "s", "struct string", m_process_info,
     "State of one process. @param string name @return struct"},
    {"supervisor.getState", "", "struct", m_state,
     "The supervisor's state: statecode and statename. @return struct"},
    {"supervisor.getSupervisorVersion", "", "string", m_supervisor_version,
     "tend's version. @return string"},
    {"supervisor.getVersion", "", "string", m_api_version,
     "The version of the RPC API (deprecated name of getAPIVersion). @return string"},
    {"supervisor.readLog", "ii", "string int int", m_read_log,
     "Bytes of tend's own log: length bytes from offset (0: to the end), or with a negative "
     "offset that many bytes from the end. @param int offset @param int length @return "
     "string"},
    {"supervisor.readMainLog", "ii", "string int int", m_read_log,
     "Same as readLog. @param int offset @param int length @return string"},
    {"supervisor.readProcessLog", "sii", "string string int int", m_read_stdout,
     "Same as readProcessStdoutLog. @param string name @param int offset @param int length "
     "@return string"},
    {"supervisor.readProcessStderrLog", "sii", "string string int int", m_read_stderr,
     "Bytes of a process's stderr log, as readLog. @param string name @param int offset "
     "@param int length @return string"},
    {"supervisor.readProcessStdoutLog", "sii", "string string int int", m_read_stdout,
     "Bytes of a process's stdout log, as readLog. @param string name @param int offset "
     "@param int length @return string"},
    {"supervisor.reloadConfig", "", "array", m_reload_config,
     "Reread the config and report the groups it adds, changes and removes, changing "
     "nothing. @return array [[added, changed, removed]]"},
    {"supervisor.removeProcessGroup", "s", "boolean string", m_remove_group,
     "Remove a stopped group that the config no longer has. @param string name @return "
     "boolean"},
    {"supervisor.restart", "", "boolean", m_restart,
     "Reread the config and apply it (tend's reload). @return boolean"},
    {"supervisor.sendProcessStdin", "ss", "boolean string string", m_send_stdin,
     "Not supported: tend connects no program's stdin (fault NO_FILE). @param string name "
     "@param string chars @return boolean"},
    {"supervisor.shutdown", "", "boolean", m_shutdown,
     "Stop every process, then tend. @return boolean"},
    {"supervisor.signalAllProcesses", "x", "array string", m_signal_all,
     "Send a signal to every running process. @param string signal @return array"},
    {"supervisor.signalProcess", "sx", "boolean string string", m_signal,
     "Send a signal to a process. @param string name @param string signal @return boolean"},
    {"supervisor.signalProcessGroup", "sx", "array string string", m_signal_group,
     "Send a signal to every running process of a group. @param string name @param string "
     "signal @return array"},
    {"supervisor.startAllProcesses", "|b", "array boolean", m_start_all,
     "Start every process not running. @param boolean wait @return array"},
    {"supervisor.startProcess", "s|b", "boolean string boolean", m_start,
     "Start a process. @param string name @param boolean wait @return boolean"},
    {"supervisor.startProcessGroup", "s|b", "array string boolean", m_start_group,
     "Start every process of a group. @param string name @param boolean wait @return array"},
    {"supervisor.stopAllProcesses", "|b", "array boolean", m_stop_all,
     "Stop every running process. @param boolean wait @return array"},
    {"supervisor.stopProcess", "s|b", "boolean string boolean", m_stop,
     "Stop a process. @param string name @param boolean wait @return boolean"},
    {"supervisor.stopProcessGroup", "s|b", "array string boolean", m_stop_group,
     "Stop every process of a group. @param string name @param boolean wait @return array"},
    {"supervisor.tailProcessLog", "sii", "array string int int", m_tail_stdout,
     "Same as tailProcessStdoutLog. @param string name @param int offset @param int length "
     "@return array"},
    {"supervisor.tailProcessStderrLog", "sii", "array string int int", m_tail_stderr,
     "As tailProcessStdoutLog, for stderr. @param string name @param int offset @param int "
     "length @return array"},
    {"supervisor.tailProcessStdoutLog", "sii", "array string int int", m_tail_stdout,
     "The end of a process's stdout log: [bytes, offset, overflow]; pass the offset back to "
     "get what follows. @param string name @param int offset @param int length @return "
     "array"},
    {"system.listMethods", "", "array", m_list_methods,
     "The names of every method. @return array"},
    {"system.methodHelp", "s", "string string", m_method_help,
     "A method's documentation. @param string name @return string"},
    {"system.methodSignature", "s", "array string", m_method_signature,
     "A method's signature: [[return type, parameter types...]]. @param string name @return "
     "array"},
    {"system.multicall", "a", "array array", m_multicall,
     "Several calls in one: an array of {methodName, params} structs; each answer is [result] "
     "or a fault struct. @param array calls @return array"},
};

#define NMETHODS (sizeof methods / sizeof methods[0])

static const struct method *find_method(const char *name)
{
    for (size_t i = 0; i < NMETHODS; i++) {
        if (strcmp(methods[i].name, name) == 0)
            return &methods[i];
    }
    return NULL;
}

static void m_list_methods(struct rpc *r, struct xv *const *a, size_t n)
{
    (void)a;
    (void)n;
    w_array_open(&r->out);
    for (size_t i = 0; i < NMETHODS; i++)
        w_str(&r->out, methods[i].name);
    w_array_close(&r->out);
}

static void m_method_help(struct rpc *r, struct xv *const *a, size_t n)
{
    const struct method *m = find_method(a[0]->s);

    (void)n;
    if (m == NULL)
        fault(r, XF_SIGNATURE_UNSUPPORTED, NULL);
    else
        w_str(&r->out, m->help);
}

static void m_method_signature(struct rpc *r, struct xv *const *a, size_t n)
{
    const struct method *m = find_method(a[0]->s);

    (void)n;
    if (m == NULL) {
        fault(r, XF_SIGNATURE_UNSUPPORTED, NULL);
        return;
    }
    w_array_open(&r->out);
    w_array_open(&r->out);
    const char *s = m->signature;
    while (*s != '\0') {
        size_t len = strcspn(s, " ");
        char word[32];
        snprintf(word, sizeof word, "%.*s", (int)len, s);
        w_str(&r->out, word);
        s += len;
        while (*s == ' ')
            s++;
    }
    w_array_close(&r->out);
    w_array_close(&r->out);
}

static bool type_ok(char want, const struct xv *v)
{
    switch (want) {
    case 's': return v->type == XV_STRING;
    case 'i': return v->type == XV_INT;
    case 'b': return v->type == XV_BOOL || v->type == XV_INT; /* xmlrpclib may send 0/1 */
    case 'x': return v->type == XV_STRING || v->type == XV_INT;
    case 'a': return v->type == XV_ARRAY;
    default: return false;
    }
}

static void dispatch(struct rpc *r, const char *name, struct xv *const *a, size_t n)
{
    const struct method *m = find_method(name);

    if (m == NULL) {
        fault(r, XF_UNKNOWN_METHOD, NULL);
        return;
    }
    size_t min = strcspn(m->params, "|");
    size_t max = strlen(m->params) - (m->params[min] == '|' ? 1 : 0);
    if (n < min || n > max) {
        fault(r, XF_INCORRECT_PARAMETERS, "%s takes %zu to %zu parameters, not %zu", name, min,
              max, n);
        return;
    }
    for (size_t i = 0, k = 0; i < n; i++, k++) {
        if (m->params[k] == '|')
            k++;
        if (!type_ok(m->params[k], a[i])) {
            fault(r, XF_INCORRECT_PARAMETERS, "%s: parameter %zu has the wrong type", name,
                  i + 1);
            return;
        }
    }
    m->fn(r, a, n);
}

static void m_multicall(struct rpc *r, struct xv *const *a, size_t n)
{
    const struct xv *calls = a[0];

    (void)n;
    if (r->in_multicall) {
        fault(r, XF_INCORRECT_PARAMETERS, "system.multicall cannot be nested");
        return;
    }
    if (calls->n > XMLRPC_MAX_MULTICALL) {
        fault(r, XF_INCORRECT_PARAMETERS, "at most %d calls at once", XMLRPC_MAX_MULTICALL);
        return;
    }
    w_array_open(&r->out);
    for (size_t i = 0; i < calls->n; i++) {
        const struct xv *c = calls->items[i];
        const char *name = NULL;
        const struct xv *params = NULL;
        struct rpc one = {.fault = XF_NONE, .in_multicall = true};
        str_init(&one.out);
        for (size_t k = 0; c->type == XV_STRUCT && k < c->n; k++) {
            if (strcmp(c->keys[k], "methodName") == 0 && c->items[k]->type == XV_STRING)
                name = c->items[k]->s;
            else if (strcmp(c->keys[k], "params") == 0 && c->items[k]->type == XV_ARRAY)
                params = c->items[k];
        }
        if (name == NULL)
            fault(&one, XF_INCORRECT_PARAMETERS, "a call is a struct with methodName");
        else if (strcmp(name, "system.multicall") == 0)
            fault(&one, XF_INCORRECT_PARAMETERS, "system.multicall cannot be nested");
        else
            dispatch(&one, name, params != NULL ? params->items : NULL,
                     params != NULL ? params->n : 0);
        if (one.fault != XF_NONE) {
            w_fault_struct(&r->out, one.fault, one.text);
        } else {
            w_array_open(&r->out);
            str_append_len(&r->out, str_cstr(&one.out), one.out.len);
            w_array_close(&r->out);
        }
        str_free(&one.out);
    }
    w_array_close(&r->out);
}

void xmlrpc_handle(const char *body, size_t len, char **out, size_t *out_len)
{
    struct xmlrpc_call call;
    struct rpc r = {.fault = XF_NONE};
    char why[512];
    struct str o;

    str_init(&r.out);
    if (xmlrpc_parse(body, len, &call, why, sizeof why) == -1) {
        r.fault = XF_PARSE_ERROR;
        snprintf(r.text, sizeof r.text, "%s", why);
    } else {
        dispatch(&r, call.method, call.params, call.nparams);
        xmlrpc_call_free(&call);
    }
    str_init(&o);
    str_append(&o, "<?xml version='1.0'?>\n<methodResponse>\n");
    if (r.fault != XF_NONE) {
        str_append(&o, "<fault>\n");
        w_fault_struct(&o, r.fault, r.text);
        str_append(&o, "\n</fault>\n");
    } else {
        str_append(&o, "<params>\n<param>\n");
        str_append_len(&o, str_cstr(&r.out), r.out.len);
        str_append(&o, "\n</param>\n</params>\n");
    }
    str_append(&o, "</methodResponse>\n");
    str_free(&r.out);
    *out_len = o.len;
    *out = str_release(&o);
}
