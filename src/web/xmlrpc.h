/* xmlrpc: supervisord's XML-RPC interface (the one supervisorctl and the usual tools speak),
 * served by tend-web at POST /RPC2. Each supervisor.* and system.* method is an entry of one
 * fixed table, mapped onto control protocol requests (web/ctl.h); there is no lookup by name
 * of anything but that table (supervisord's CVE-2017-11610 came from walking objects by the
 * dotted method name).
 *
 * Parsing is expat's, with every door an XML-RPC body has no use for shut: a DOCTYPE (and so
 * any entity declaration, internal or external) ends the parse, parameter entities are never
 * parsed, external entities are never loaded, and the body, the element depth, the element
 * count and so every string and array are bounded. A body that is not a methodCall gets a
 * fault, never a crash. */
#ifndef TEND_WEB_XMLRPC_H
#define TEND_WEB_XMLRPC_H

#include <stdbool.h>
#include <stddef.h>

/* Limits of one request. A body over XMLRPC_MAX_BODY is refused before it is parsed. */
#define XMLRPC_MAX_BODY (1024 * 1024)
#define XMLRPC_MAX_DEPTH 64
#define XMLRPC_MAX_NODES 20000
#define XMLRPC_MAX_MULTICALL 256

/* supervisord's fault codes (supervisor/xmlrpc.py Faults). */
enum xmlrpc_fault {
    XF_NONE = 0,
    XF_UNKNOWN_METHOD = 1,
    XF_INCORRECT_PARAMETERS = 2,
    XF_BAD_ARGUMENTS = 3,
    XF_SIGNATURE_UNSUPPORTED = 4,
    XF_SHUTDOWN_STATE = 6,
    XF_BAD_NAME = 10,
    XF_BAD_SIGNAL = 11,
    XF_NO_FILE = 20,
    XF_NOT_EXECUTABLE = 21,
    XF_FAILED = 30,
    XF_ABNORMAL_TERMINATION = 40,
    XF_SPAWN_ERROR = 50,
    XF_ALREADY_STARTED = 60,
    XF_NOT_RUNNING = 70,
    XF_SUCCESS = 80,
    XF_ALREADY_ADDED = 90,
    XF_STILL_RUNNING = 91,
    XF_CANT_REREAD = 92,
    /* Not a supervisord code: the body is not XML or not a methodCall (the XML-RPC
     * interoperability convention's "parse error"). */
    XF_PARSE_ERROR = -32700,
};

/* A parsed XML-RPC value. */
enum xv_type { XV_INT, XV_BOOL, XV_STRING, XV_DOUBLE, XV_NIL, XV_ARRAY, XV_STRUCT };

struct xv {
    enum xv_type type;
    long long i;      /* INT, BOOL */
    char *s;          /* STRING; DOUBLE as written */
    struct xv **items; /* ARRAY items, STRUCT member values */
    char **keys;      /* STRUCT member names */
    size_t n;
};

struct xmlrpc_call {
    char *method;
    struct xv **params;
    size_t nparams;
};

/* Parses a methodCall. 0 with *call filled (release with xmlrpc_call_free), or -1 with why
 * (a message for the fault) and *call empty. Pure: no I/O, for the unit test and fuzzing. */
int xmlrpc_parse(const char *body, size_t len, struct xmlrpc_call *call, char *why,
                 size_t why_len);
void xmlrpc_call_free(struct xmlrpc_call *call);

/* Answers one request body: a malloc'd methodResponse (a result or a fault) in *out and its
 * length. Calls tend through web/ctl.h, so ctl_init must have been called. */
void xmlrpc_handle(const char *body, size_t len, char **out, size_t *out_len);

/* Appends s to o as XML character data: &, <, > escaped, a byte sequence that is not UTF-8
 * becomes U+FFFD and a control character that XML cannot carry a '?', so the document always
 * parses. */
struct str;
void xmlrpc_escape(struct str *o, const char *s, size_t len);

#endif
