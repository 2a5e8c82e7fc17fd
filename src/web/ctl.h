/* ctl: tend-web's side of the control protocol (doc/protocol.md): one connection per
 * request, like the CLI. Thread-safe: nothing is shared between calls but the address. */
#ifndef TEND_WEB_CTL_H
#define TEND_WEB_CTL_H

#include <stdbool.h>
#include <stddef.h>

#include "proto.h"

/* ctl_call requests in flight at once (others wait up to CTL_SLOT_WAIT_S, then fail with
 * PROTO_ERR_BUSY). Log followers (ctl_open) are counted apart, by the caller. */
#define CTL_MAX_CALLS 64
#define CTL_SLOT_WAIT_S 10

/* What one request brought back. */
struct ctl_result {
    struct proto_reply *lines; /* the lines before the final one, each owning its storage */
    size_t n;
    bool ok;                   /* the final line was ok */
    enum proto_err err;        /* else its code (PROTO_ERR_FAILED for a transport failure) */
    char *text;                /* the err text, or what went wrong on the way; "" when ok */
    bool transport;            /* no final line: could not connect, broken reply, timeout */
};

/* The control socket: "@NAME" for an abstract address (what tend gives tend-web in
 * TEND_WEB_SOCKET), else a path. Call once before any other function. */
void ctl_init(const char *address);

/* Sends "tend/1 VERB ARGS..." and reads the whole reply, for at most timeout_ms. Returns 0
 * when a final line came (r->ok tells which), -1 on a transport failure (r->text says it).
 * Release r with ctl_result_free in both cases. */
int ctl_call(const char *verb, char *const *argv, size_t argc, int timeout_ms,
             struct ctl_result *r);
void ctl_result_free(struct ctl_result *r);

/* For a reply that goes on (logs -f): connects and sends; returns the connected descriptor
 * to read reply lines from, or -1 with errno. Not limited by CTL_MAX_CALLS. */
int ctl_open(const char *verb, char *const *argv, size_t argc);

#endif
