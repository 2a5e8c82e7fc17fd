/* ctl: the control protocol client of tend-web (see ctl.h). Blocking sockets with a poll
 * deadline: each HTTP connection has a thread of its own, so a wait blocks only its request. */
#include <errno.h>
#include <poll.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"
#include "util/fd.h"
#include "util/str.h"
#include "web/ctl.h"

static struct sockaddr_un ctl_addr;
static socklen_t ctl_addr_len;
/* Requests in flight to tend at once: however many HTTP clients there are, tend-web never
 * takes more than this many of tend's control connections (CONTROL_MAX_CONNS in all), so
 * the CLI always finds room. */
static sem_t ctl_slots;

void ctl_init(const char *address)
{
    size_t len = strlen(address);

    /* Cannot fail: the count is far below SEM_VALUE_MAX and the semaphore is not shared. */
    (void)sem_init(&ctl_slots, 0, CTL_MAX_CALLS);

    memset(&ctl_addr, 0, sizeof ctl_addr);
    ctl_addr.sun_family = AF_UNIX;
    if (len >= sizeof ctl_addr.sun_path)
        len = sizeof ctl_addr.sun_path - 1; /* too long to exist: connect will say so */
    memcpy(ctl_addr.sun_path, address, len);
    if (address[0] == '@') {
        ctl_addr.sun_path[0] = '\0';
        ctl_addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    } else {
        ctl_addr_len = (socklen_t)sizeof ctl_addr;
    }
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ctl_open(const char *verb, char *const *argv, size_t argc)
{
    struct proto_buf req;
    int fd;

    proto_buf_init(&req);
    if (proto_build_request(&req, verb, argv, argc) == -1)
        return -1;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1 || connect(fd, (struct sockaddr *)&ctl_addr, ctl_addr_len) == -1) {
        int e = errno;
        fd_close_quiet(fd);
        proto_buf_free(&req);
        errno = e;
        return -1;
    }
    /* The request is far smaller than a socket buffer: one send does not block for long. A
     * supervisor that refuses (denied, busy) may close before reading: its reply still
     * waits to be read, so a failed send is not the end. */
    size_t off = 0;
    while (off < req.len) {
        ssize_t n = send(fd, req.data + off, req.len - off, MSG_NOSIGNAL);
        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    proto_buf_free(&req);
    return fd;
}

void ctl_result_free(struct ctl_result *r)
{
    for (size_t i = 0; i < r->n; i++)
        proto_reply_free(&r->lines[i]);
    free(r->lines);
    free(r->text);
    memset(r, 0, sizeof *r);
}

static int fail(struct ctl_result *r, const char *what, const char *detail)
{
    r->ok = false;
    r->transport = true;
    r->err = PROTO_ERR_FAILED;
    free(r->text);
    r->text = detail != NULL ? xasprintf("%s: %s", what, detail) : xstrdup(what);
    return -1;
}

int ctl_call(const char *verb, char *const *argv, size_t argc, int timeout_ms,
             struct ctl_result *r)
{
    struct proto_splitter sp;
    size_t cap = 0;
    long long deadline = now_ms() + timeout_ms;
    int rc = -1;

    memset(r, 0, sizeof *r);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until); /* sem_timedwait's clock */
    until.tv_sec += CTL_SLOT_WAIT_S;
    while (sem_timedwait(&ctl_slots, &until) == -1) {
        if (errno != EINTR) {
            fail(r, "tend-web is busy: too many requests to tend at once", NULL);
            r->err = PROTO_ERR_BUSY;
            return -1;
        }
    }
    int fd = ctl_open(verb, argv, argc);
    if (fd == -1) {
        (void)sem_post(&ctl_slots); /* cannot overflow: we took this slot */
        return fail(r, "cannot reach tend", strerror(errno));
    }
    proto_splitter_init(&sp, PROTO_MAX_LINE);
    for (;;) {
        const char *line;
        size_t len;
        int got;
        while ((got = proto_splitter_next(&sp, &line, &len)) == 1) {
            struct proto_reply rep;
            if (proto_parse_reply(line, len, &rep) == -1) {
                fail(r, "malformed reply from tend", NULL);
                goto out;
            }
            if (rep.kind == PROTO_REPLY_OK || rep.kind == PROTO_REPLY_ERR) {
                r->ok = rep.kind == PROTO_REPLY_OK;
                r->err = rep.kind == PROTO_REPLY_OK ? PROTO_OK : rep.err;
                r->text = xstrdup(rep.kind == PROTO_REPLY_OK ? ""
                                  : rep.text[0] != '\0' ? rep.text : rep.code);
                proto_reply_free(&rep);
                rc = 0;
                goto out;
            }
            if (r->n == cap) {
                cap = cap ? cap * 2 : 16;
                r->lines = xrealloc(r->lines, cap * sizeof *r->lines);
            }
            r->lines[r->n++] = rep;
        }
        if (got == -1) {
            fail(r, "reply line from tend too long", NULL);
            goto out;
        }
        long long left = deadline - now_ms();
        if (left <= 0) {
            fail(r, "no reply from tend in time", NULL);
            goto out;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int ready = poll(&pfd, 1, (int)left);
        if (ready == -1 && errno == EINTR)
            continue;
        if (ready <= 0)
            continue; /* the deadline check above ends it */
        ssize_t n = proto_splitter_read(&sp, fd);
        if (n == 0 || (n == -1 && errno != EINTR && errno != EAGAIN)) {
            fail(r, "tend closed the connection before the reply ended", NULL);
            goto out;
        }
    }
out:
    proto_splitter_free(&sp);
    fd_close_quiet(fd);
    (void)sem_post(&ctl_slots); /* cannot overflow: we took this slot */
    return rc;
}
