/* events: supervisord's event listener protocol for [eventlistener:x] pools (see events.h).
 * Invariants: every descriptor here is non-blocking and close-on-exec; a pool's buffer never
 * holds more than its buffer_size events; a listener process has at most one event in
 * flight, and that event is either acknowledged (OK) or back at the head of its pool; every
 * step of a listener's protocol is written into its handover slot (handover_save, read back
 * through events_handover) before the next byte goes either way. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "events.h"
#include "evtype.h"
#include "handover.h"
#include "log.h"
#include "logcap.h"
#include "supervisor.h"
#include "util/fd.h"
#include "util/killpoint.h"

#define TICK_NS (5ULL * 1000000000ULL)
#define LINE_MAX_BYTES 512   /* a protocol line longer than this is garbage: dropped */
#define RESULT_MAX_BYTES 4096 /* RESULT bodies are "OK" or "FAIL"; bound what we accept */

/* One event, shared by every pool it was queued in. */
struct evmsg {
    unsigned refs;
    enum evtype type;
    unsigned long serial;
    size_t len;
    char payload[];
};

struct queued {
    struct evmsg *msg;
    unsigned long poolserial;
};

/* One [eventlistener:x]: its buffer (a ring of at most cap events) and counters. */
struct evpool {
    char *name;
    uint32_t mask;   /* subscriptions, from the latest member config seen */
    size_t cap;      /* buffer_size */
    struct queued *ring;
    size_t ring_cap; /* allocated slots (>= cap) */
    size_t head, count;
    unsigned long poolserial;
    unsigned long dropped;
};

enum lstate {
    LS_ACK,   /* waiting for READY */
    LS_READY, /* may be sent one event */
    LS_BUSY,  /* an event is out; waiting for RESULT */
};

/* The protocol side of one listener process. */
struct evproc {
    struct events *ev;
    struct service *svc;
    struct evpool *pool;
    int in_fd;   /* our end of its stdin */
    int out_fd;  /* our end of its stdout */
    int child_in, child_out; /* the child's ends, between events_child_fds and after_spawn */
    struct watcher in_w, out_w;
    bool in_watched;
    enum lstate state;
    struct queued cur;  /* LS_BUSY: the event sent */
    char *wbuf;         /* bytes of cur not yet written */
    size_t wlen, woff;
    char rbuf[LINE_MAX_BYTES + RESULT_MAX_BYTES];
    size_t rlen;
    long result_len;    /* -1: expecting a line; else the RESULT body length */
    bool lost_event;    /* taken back LS_BUSY: its event died with the previous supervisor */
    bool spare_ready;   /* taken back LS_ACK: a READY it sent may have gone with that one */
};

struct events {
    struct supervisor *sup;
    struct evpool **pools;
    size_t npools;
    unsigned long serial;
    struct timer tick;
    struct timer kick; /* dispatch every pool soon: after a release, outside the caller */
    uint64_t next_tick_ns;
    time_t last_tick_s;
    bool failed;       /* a program had failed when the shutdown began */
    bool by_program;   /* the stop signal came from one of tend's programs */
};

/* ---- messages and pools ---- */

static void msg_unref(struct evmsg *m)
{
    if (m != NULL && --m->refs == 0)
        free(m);
}

static struct evpool *pool_find(struct events *ev, const char *name, bool create)
{
    for (size_t i = 0; i < ev->npools; i++) {
        if (strcmp(ev->pools[i]->name, name) == 0)
            return ev->pools[i];
    }
    if (!create)
        return NULL;
    struct evpool **grown = realloc(ev->pools, (ev->npools + 1) * sizeof(*grown));
    struct evpool *p = calloc(1, sizeof(*p));
    char *copy = strdup(name);
    if (grown != NULL)
        ev->pools = grown;
    if (grown == NULL || p == NULL || copy == NULL) {
        free(p);
        free(copy);
        return NULL;
    }
    p->name = copy;
    ev->pools[ev->npools++] = p;
    return p;
}

/* Takes the pool's settings from a member's config (a reload may have changed them). */
static void pool_configure(struct evpool *p, const struct proc_conf *c)
{
    const struct proc_events *e = proc_conf_events(c);
    size_t cap = e->buffer_size > 0 ? (size_t)e->buffer_size : 1;
    p->mask = e->listener_events;
    if (cap > p->ring_cap) {
        struct queued *r = calloc(cap, sizeof(*r));
        if (r == NULL)
            return; /* keeps the old, smaller buffer: fewer events buffered, none lost now */
        for (size_t i = 0; p->ring_cap > 0 && i < p->count; i++)
            r[i] = p->ring[(p->head + i) % p->ring_cap];
        free(p->ring);
        p->ring = r;
        p->ring_cap = cap;
        p->head = 0;
    }
    /* A smaller buffer_size takes effect as events are taken out. */
    p->cap = cap < p->ring_cap ? cap : p->ring_cap;
}

static void pool_push(struct evpool *p, struct queued q, bool at_head)
{
    if (p->ring_cap == 0) {
        msg_unref(q.msg);
        return;
    }
    if (p->count >= p->cap) {
        /* Full: supervisord's rule is that the oldest event goes. */
        struct queued *old = &p->ring[p->head];
        p->dropped++;
        log_msg(LOG_LVL_WARN, "event listener pool %s: buffer full (buffer_size=%zu): dropped "
                "event %s serial %lu (%lu dropped so far)", p->name, p->cap,
                evtype_name(old->msg->type), old->msg->serial, p->dropped);
        msg_unref(old->msg);
        p->head = (p->head + 1) % p->ring_cap;
        p->count--;
    }
    if (at_head) {
        p->head = (p->head + p->ring_cap - 1) % p->ring_cap;
        p->ring[p->head] = q;
    } else {
        p->ring[(p->head + p->count) % p->ring_cap] = q;
    }
    p->count++;
}

static bool pool_pop(struct evpool *p, struct queued *out)
{
    if (p->count == 0)
        return false;
    *out = p->ring[p->head];
    p->head = (p->head + 1) % p->ring_cap;
    p->count--;
    return true;
}

/* ---- one listener process ---- */

static void proc_dispatch(struct evproc *lp);
static void pool_dispatch(struct events *ev, struct evpool *p);

static void lp_close(struct evproc *lp)
{
    struct loop *loop = &lp->ev->sup->loop;
    int in_fd = lp->in_fd, out_fd = lp->out_fd;

    if (in_fd != -1)
        loop_del(loop, &lp->in_w);
    if (out_fd != -1)
        loop_del(loop, &lp->out_w);
    lp->in_fd = lp->out_fd = -1;
    fd_close_quiet(lp->child_in);
    fd_close_quiet(lp->child_out);
    lp->child_in = lp->child_out = -1;
    lp->in_watched = false;
    free(lp->wbuf);
    lp->wbuf = NULL;
    lp->wlen = lp->woff = 0;
    lp->rlen = 0;
    lp->result_len = -1;
    if (lp->state == LS_BUSY && lp->cur.msg != NULL) {
        /* It died or was stopped holding an event: someone else gets it. */
        pool_push(lp->pool, lp->cur, true);
        lp->cur.msg = NULL;
    }
    lp->state = LS_ACK;
    lp->lost_event = lp->spare_ready = false;
    /* The slot stops naming the pipes (and the keeper lets go of them) before they are
     * closed: a number a later descriptor reuses is never taken for theirs. */
    if (in_fd != -1 || out_fd != -1)
        handover_save(lp->svc);
    fd_close_quiet(in_fd);
    fd_close_quiet(out_fd);
}

static void on_writable(struct watcher *w, uint32_t events);

/* Writes what is pending of the current event; watches for room when the pipe is full. */
static void lp_flush(struct evproc *lp)
{
    while (lp->woff < lp->wlen) {
        ssize_t n = write(lp->in_fd, lp->wbuf + lp->woff, lp->wlen - lp->woff);
        if (n > 0) {
            lp->woff += (size_t)n;
            continue;
        }
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && errno == EAGAIN) {
            if (!lp->in_watched &&
                loop_add(&lp->ev->sup->loop, &lp->in_w, lp->in_fd, EPOLLOUT, on_writable,
                         lp) == 0)
                lp->in_watched = true;
            return;
        }
        /* EPIPE: it is gone; its exit closes the rest and rebuffers the event. */
        log_msg(LOG_LVL_WARN, "%s: cannot write an event to the listener: %s",
                lp->svc->display, strerror(errno));
        free(lp->wbuf);
        lp->wbuf = NULL;
        lp->wlen = lp->woff = 0;
        handover_save(lp->svc);
        return;
    }
    free(lp->wbuf);
    lp->wbuf = NULL;
    lp->wlen = lp->woff = 0;
    handover_save(lp->svc); /* written whole: BUSY from here */
    if (lp->in_watched) {
        loop_del(&lp->ev->sup->loop, &lp->in_w);
        lp->in_watched = false;
    }
}

static void on_writable(struct watcher *w, uint32_t events)
{
    (void)events;
    lp_flush(w->ctx);
}

/* Sends the next event of its pool to a READY listener. */
static void proc_dispatch(struct evproc *lp)
{
    struct queued q;
    char header[256];

    if (lp->state != LS_READY || lp->in_fd == -1 || !pool_pop(lp->pool, &q))
        return;
    int h = snprintf(header, sizeof(header),
                     "ver:3.0 server:supervisor serial:%lu pool:%s poolserial:%lu "
                     "eventname:%s len:%zu\n",
                     q.msg->serial, lp->pool->name, q.poolserial, evtype_name(q.msg->type),
                     q.msg->len);
    if (h < 0 || (size_t)h >= sizeof(header) ||
        (lp->wbuf = malloc((size_t)h + q.msg->len)) == NULL) {
        pool_push(lp->pool, q, true); /* a pool name too long for a header, or no memory */
        log_msg(LOG_LVL_WARN, "%s: cannot send an event to the listener", lp->svc->display);
        return;
    }
    memcpy(lp->wbuf, header, (size_t)h);
    memcpy(lp->wbuf + h, q.msg->payload, q.msg->len);
    lp->wlen = (size_t)h + q.msg->len;
    lp->woff = 0;
    lp->cur = q;
    lp->state = LS_BUSY;
    handover_save(lp->svc); /* SENDING, before the first byte goes */
    lp_flush(lp);
}

static void pool_dispatch(struct events *ev, struct evpool *p)
{
    struct supervisor *sup = ev->sup;
    for (size_t i = 0; i < sup->nsvcs && p->count > 0; i++) {
        struct evproc *lp = sup->svcs[i]->evproc;
        if (lp != NULL && lp->pool == p && lp->state == LS_READY)
            proc_dispatch(lp);
    }
}

/* The listener answered its event: OK takes it off, anything else puts it back. */
static void lp_result(struct evproc *lp, const char *body, size_t len)
{
    bool ok = len == 2 && memcmp(body, "OK", 2) == 0;
    if (lp->state == LS_BUSY && lp->cur.msg == NULL && lp->lost_event) {
        log_msg(LOG_LVL_INFO, "%s: listener answered %.*s to the event the previous supervisor "
                "sent it", lp->svc->display, (int)(len > 40 ? 40 : len), body);
    } else if (lp->state != LS_BUSY || lp->cur.msg == NULL) {
        log_msg(LOG_LVL_WARN, "%s: listener sent a RESULT with no event out", lp->svc->display);
    } else if (ok) {
        msg_unref(lp->cur.msg);
    } else {
        log_msg(LOG_LVL_INFO, "%s: listener rejected event %s serial %lu (%.*s): it will be "
                "sent again", lp->svc->display, evtype_name(lp->cur.msg->type),
                lp->cur.msg->serial, (int)(len > 40 ? 40 : len), body);
        pool_push(lp->pool, lp->cur, true);
    }
    lp->cur.msg = NULL;
    free(lp->wbuf); /* a listener that answers before reading all is done with it anyway */
    lp->wbuf = NULL;
    lp->wlen = lp->woff = 0;
    if (lp->in_watched) {
        loop_del(&lp->ev->sup->loop, &lp->in_w);
        lp->in_watched = false;
    }
    lp->state = LS_ACK;
    lp->lost_event = lp->spare_ready = false;
    handover_save(lp->svc);
}

/* Parses what the listener wrote: READY lines and RESULT N + N bytes. */
static void lp_parse(struct evproc *lp)
{
    size_t pos = 0;
    while (pos < lp->rlen) {
        char *p = lp->rbuf + pos;
        size_t avail = lp->rlen - pos;
        if (lp->result_len >= 0) {
            if (avail < (size_t)lp->result_len)
                break;
            lp_result(lp, p, (size_t)lp->result_len);
            pos += (size_t)lp->result_len;
            lp->result_len = -1;
            continue;
        }
        char *nl = memchr(p, '\n', avail);
        if (nl == NULL) {
            if (avail > LINE_MAX_BYTES) {
                log_msg(LOG_LVL_WARN, "%s: listener wrote a line too long for the protocol; "
                        "dropped", lp->svc->display);
                pos = lp->rlen;
            }
            break;
        }
        size_t llen = (size_t)(nl - p);
        pos += llen + 1;
        bool ready = llen == 5 && memcmp(p, "READY", 5) == 0;
        if (!ready && lp->lost_event && llen > 5 && memcmp(nl - 5, "READY", 5) == 0) {
            /* The rest of a RESULT whose head the previous supervisor read, then its READY
             * ("OKREADY"): the READY is what counts. */
            log_msg(LOG_LVL_INFO, "%s: listener wrote '%.*s': the end of a RESULT the previous "
                    "supervisor began to read, then READY", lp->svc->display,
                    (int)(llen > 60 ? 60 : llen), p);
            ready = true;
        }
        if (ready) {
            if (lp->state == LS_BUSY && lp->spare_ready) {
                /* The READY the previous supervisor's state did not show yet: the event
                 * sent since is in its stdin, and it reads it now. */
                lp->spare_ready = false;
            } else if (lp->state == LS_BUSY && lp->lost_event) {
                /* Its RESULT was read by the previous supervisor, which died before it
                 * recorded it: the event was done with either way. */
                log_msg(LOG_LVL_INFO, "%s: listener is READY: the event the previous "
                        "supervisor sent it is over", lp->svc->display);
                lp->lost_event = false;
                lp->state = LS_READY;
                handover_save(lp->svc);
            } else if (lp->state == LS_BUSY) {
                log_msg(LOG_LVL_WARN, "%s: listener said READY before its RESULT",
                        lp->svc->display);
            } else if (lp->state != LS_READY) {
                lp->state = LS_READY;
                handover_save(lp->svc);
            } else {
                lp->spare_ready = false;
            }
        } else if (llen > 7 && memcmp(p, "RESULT ", 7) == 0) {
            char *end = NULL;
            long n = strtol(p + 7, &end, 10);
            if (end != nl || n < 0 || n > RESULT_MAX_BYTES)
                log_msg(LOG_LVL_WARN, "%s: listener sent a bad RESULT line", lp->svc->display);
            else
                lp->result_len = n;
        } else {
            log_msg(LOG_LVL_WARN, "%s: listener wrote '%.*s' outside the protocol (its stdout "
                    "is the protocol channel: print to stderr)", lp->svc->display,
                    (int)(llen > 60 ? 60 : llen), p);
        }
    }
    memmove(lp->rbuf, lp->rbuf + pos, lp->rlen - pos);
    lp->rlen -= pos;
}

static void on_readable(struct watcher *w, uint32_t events)
{
    struct evproc *lp = w->ctx;
    (void)events;
    for (;;) {
        if (lp->rlen == sizeof(lp->rbuf))
            lp->rlen = 0; /* cannot happen with the bounds lp_parse applies; stay safe */
        ssize_t n = read(lp->out_fd, lp->rbuf + lp->rlen, sizeof(lp->rbuf) - lp->rlen);
        if (n > 0) {
            /* Resilience tests: a death between this read and what it changes. */
            killpoint("TEND_TEST_KILL_IN_EVENTS", "read");
            lp->rlen += (size_t)n;
            lp_parse(lp);
            continue;
        }
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && errno == EAGAIN)
            break;
        /* End of file (it closed stdout or died) or an error: done with this instance. */
        lp_close(lp);
        pool_dispatch(lp->ev, lp->pool);
        return;
    }
    if (lp->state == LS_READY)
        proc_dispatch(lp);
}

/* ---- raising events ---- */

static void emit(struct events *ev, enum evtype type, const char *payload, size_t len)
{
    struct evmsg *m = NULL;

    ev->serial++;
    for (size_t i = 0; i < ev->npools; i++) {
        struct evpool *p = ev->pools[i];
        if ((p->mask & EVT_MASK(type)) == 0)
            continue;
        if (m == NULL) {
            m = malloc(sizeof(*m) + len + 1);
            if (m == NULL) {
                log_msg(LOG_LVL_WARN, "event %s not sent: out of memory", evtype_name(type));
                return;
            }
            m->refs = 1; /* ours until the loop ends: a pool may drop it at once */
            m->type = type;
            m->serial = ev->serial;
            m->len = len;
            memcpy(m->payload, payload, len);
            m->payload[len] = '\0';
        }
        m->refs++;
        pool_push(p, (struct queued){m, ++p->poolserial}, false);
        pool_dispatch(ev, p);
    }
    msg_unref(m);
}

static void emit_state(struct events *ev, struct service *svc, enum proc_state to,
                       enum proc_state from, bool expected)
{
    static const enum evtype by_state[] = {
        [PROC_STOPPED] = EVT_PROCESS_STATE_STOPPED,   [PROC_STARTING] = EVT_PROCESS_STATE_STARTING,
        [PROC_RUNNING] = EVT_PROCESS_STATE_RUNNING,   [PROC_BACKOFF] = EVT_PROCESS_STATE_BACKOFF,
        [PROC_STOPPING] = EVT_PROCESS_STATE_STOPPING, [PROC_EXITED] = EVT_PROCESS_STATE_EXITED,
        [PROC_FATAL] = EVT_PROCESS_STATE_FATAL,       [PROC_UNKNOWN] = EVT_PROCESS_STATE_UNKNOWN,
    };
    const struct proc_conf *c = svc->p.conf;
    char buf[1024];
    int n = snprintf(buf, sizeof(buf), "processname:%s groupname:%s from_state:%s", c->name,
                     c->group, proc_state_name(from));
    pid_t live = svc->p.pid != 0 ? svc->p.pid : svc->p.last_pid;

    if (n < 0 || (size_t)n >= sizeof(buf))
        return; /* names are bounded far below this */
    size_t len = (size_t)n;
    switch (to) {
    case PROC_STARTING:
    case PROC_BACKOFF:
        n = snprintf(buf + len, sizeof(buf) - len, " tries:%d", svc->p.backoff);
        break;
    case PROC_RUNNING:
    case PROC_STOPPING:
    case PROC_STOPPED:
        n = snprintf(buf + len, sizeof(buf) - len, " pid:%d", (int)live);
        break;
    case PROC_EXITED:
        n = snprintf(buf + len, sizeof(buf) - len, " expected:%d pid:%d", expected ? 1 : 0,
                     (int)svc->p.last_pid);
        break;
    case PROC_FATAL:
    case PROC_UNKNOWN:
    default:
        n = 0;
        break;
    }
    if (n > 0)
        len += (size_t)n;
    emit(ev, by_state[to], buf, len);
}

/* The supervisor's state-change listener: one PROCESS_STATE event per state passed
 * through, as supervisord sends them (an exit and the restart that follows it are two). */
static void on_state(struct service *svc, const struct proc_effects *fx, void *ctx)
{
    struct events *ev = ctx;
    struct evproc *lp = svc->evproc;

    if (lp != NULL && svc->p.pid == 0 && (lp->in_fd != -1 || lp->out_fd != -1)) {
        /* The listener instance is gone: its event goes back to the pool. */
        lp_close(lp);
    }
    if (fx->from == fx->to && !fx->exited)
        return;
    if (fx->exited) {
        emit_state(ev, svc, PROC_EXITED, fx->from, !fx->unexpected_exit);
        if (fx->to != PROC_EXITED)
            emit_state(ev, svc, fx->to, PROC_EXITED, false);
    } else if (fx->from == PROC_STOPPING && fx->to == PROC_STARTING) {
        emit_state(ev, svc, PROC_STOPPED, PROC_STOPPING, false);
        emit_state(ev, svc, PROC_STARTING, PROC_STOPPED, false);
    } else {
        emit_state(ev, svc, fx->to, fx->from, false);
    }
    if (lp != NULL && lp->pool != NULL)
        pool_dispatch(ev, lp->pool);
}

/* ---- output as events ---- */

/* logcap's hook has no context argument: the one events object of this supervisor. */
static struct events *log_events;

static void raise_output(enum evtype t, const char *name, bool is_stderr, const char *buf,
                         size_t len, bool channel);

static void on_output(const char *name, bool is_stderr, const char *buf, size_t len)
{
    raise_output(is_stderr ? EVT_PROCESS_LOG_STDERR : EVT_PROCESS_LOG_STDOUT, name, is_stderr,
                 buf, len, true);
}

/* Capture mode: PROCESS_COMMUNICATION_*, whose payload has no channel field. */
static void on_comm(const char *name, bool is_stderr, const char *buf, size_t len)
{
    raise_output(is_stderr ? EVT_PROCESS_COMMUNICATION_STDERR
                           : EVT_PROCESS_COMMUNICATION_STDOUT, name, is_stderr, buf, len, false);
}

static void raise_output(enum evtype t, const char *name, bool is_stderr, const char *buf,
                         size_t len, bool channel)
{
    struct events *ev = log_events;
    uint32_t want = 0;

    if (ev == NULL)
        return;
    for (size_t i = 0; i < ev->npools; i++)
        want |= ev->pools[i]->mask;
    if ((want & EVT_MASK(t)) == 0)
        return; /* nobody listens: no copy */
    struct supervisor *sup = ev->sup;
    for (size_t i = 0; i < sup->nsvcs; i++) {
        struct service *svc = sup->svcs[i];
        if (strcmp(svc->p.conf->name, name) != 0)
            continue;
        char head[512];
        int h = snprintf(head, sizeof(head), "processname:%s groupname:%s pid:%d%s%s\n",
                         name, svc->p.conf->group, (int)svc->p.pid,
                         channel ? " channel:" : "",
                         channel ? (is_stderr ? "stderr" : "stdout") : "");
        char *payload;
        if (h < 0 || (size_t)h >= sizeof(head) || (payload = malloc((size_t)h + len)) == NULL)
            return; /* a name too long for a header, or no memory: this output only */
        memcpy(payload, head, (size_t)h);
        memcpy(payload + h, buf, len);
        emit(ev, t, payload, (size_t)h + len);
        free(payload);
        return;
    }
}

/* ---- ticks ---- */

static uint32_t subscribed(const struct events *ev)
{
    uint32_t m = 0;
    for (size_t i = 0; i < ev->npools; i++)
        m |= ev->pools[i]->mask;
    return m;
}

static void arm_tick(struct events *ev)
{
    if ((subscribed(ev) & EVT_TICKS) == 0 || timer_armed(&ev->tick))
        return;
    if (ev->next_tick_ns == 0)
        ev->next_tick_ns = timer_now_ns() + TICK_NS;
    if (loop_timer_arm(&ev->sup->loop, &ev->tick, ev->next_tick_ns) == -1)
        log_msg(LOG_LVL_WARN, "cannot arm the TICK timer: %s", strerror(errno));
}

static void on_tick(struct timer *t, void *ctx)
{
    struct events *ev = ctx;
    char buf[64];
    time_t now = time(NULL);
    int n = snprintf(buf, sizeof(buf), "when:%lld", (long long)now);

    (void)t;
    ev->next_tick_ns += TICK_NS;
    if (ev->next_tick_ns <= timer_now_ns())
        ev->next_tick_ns = timer_now_ns() + TICK_NS; /* slept through some: no catching up */
    if (n > 0) {
        emit(ev, EVT_TICK_5, buf, (size_t)n);
        if (ev->last_tick_s == 0 || now / 60 != ev->last_tick_s / 60)
            emit(ev, EVT_TICK_60, buf, (size_t)n);
        if (ev->last_tick_s == 0 || now / 3600 != ev->last_tick_s / 3600)
            emit(ev, EVT_TICK_3600, buf, (size_t)n);
    }
    ev->last_tick_s = now;
    arm_tick(ev);
}

static void on_kick(struct timer *t, void *ctx)
{
    struct events *ev = ctx;
    (void)t;
    for (size_t i = 0; i < ev->npools; i++)
        pool_dispatch(ev, ev->pools[i]);
}

/* ---- public ---- */

struct events *events_new(struct supervisor *sup)
{
    struct events *ev = calloc(1, sizeof(*ev));
    if (ev == NULL)
        return NULL;
    ev->sup = sup;
    timer_init(&ev->tick, on_tick, ev);
    timer_init(&ev->kick, on_kick, ev);
    log_events = ev;
    logcap_event_hook = on_output;
    logcap_comm_hook = on_comm;
    if (sup_listen(sup, on_state, ev) == -1) {
        log_msg(LOG_LVL_ERROR, "event listeners get no events: no room for another "
                "state-change listener");
        free(ev);
        return NULL;
    }
    return ev;
}

void events_free(struct events *ev)
{
    if (ev == NULL)
        return;
    loop_timer_cancel(&ev->sup->loop, &ev->tick);
    loop_timer_cancel(&ev->sup->loop, &ev->kick);
    if (log_events == ev) {
        log_events = NULL;
        logcap_event_hook = NULL;
        logcap_comm_hook = NULL;
    }
    for (size_t i = 0; i < ev->npools; i++) {
        struct evpool *p = ev->pools[i];
        struct queued q;
        while (pool_pop(p, &q))
            msg_unref(q.msg);
        free(p->ring);
        free(p->name);
        free(p);
    }
    free(ev->pools);
    free(ev);
}

/* Pools exist before their listeners first run, so that nothing raised meanwhile is lost. */
static void make_pools(struct events *ev)
{
    struct supervisor *sup = ev->sup;
    for (size_t i = 0; i < sup->nsvcs; i++) {
        const struct proc_conf *c = sup->svcs[i]->p.conf;
        if (c->kind != PROC_KIND_LISTENER)
            continue;
        struct evpool *p = pool_find(ev, c->program, true);
        if (p != NULL)
            pool_configure(p, c);
    }
}

void events_running(struct events *ev)
{
    if (ev == NULL)
        return;
    make_pools(ev);
    emit(ev, EVT_SUPERVISOR_STATE_CHANGE_RUNNING, "", 0);
    arm_tick(ev);
}

static bool exit_unexpected(const struct proc *p)
{
    int st = p->last_status;
    if (st < 0)
        return false;
    if (WIFEXITED(st))
        return !proc_conf_expected(p->conf, WEXITSTATUS(st));
    return true;
}

void events_stopping(struct events *ev)
{
    if (ev == NULL)
        return;
    struct supervisor *sup = ev->sup;
    for (size_t i = 0; i < sup->nsvcs; i++) {
        const struct proc *p = &sup->svcs[i]->p;
        if (p->state == PROC_FATAL ||
            ((p->state == PROC_EXITED || p->state == PROC_BACKOFF ||
              p->state == PROC_STARTING) && exit_unexpected(p))) {
            if (!ev->failed && ev->by_program)
                log_msg(LOG_LVL_INFO, "%s had failed (%s) when a program stopped tend: tend "
                        "will exit with status 5", sup->svcs[i]->display,
                        proc_state_name(p->state));
            ev->failed = true;
        }
    }
    emit(ev, EVT_SUPERVISOR_STATE_CHANGE_STOPPING, "", 0);
}

bool events_program_failed(const struct events *ev)
{
    return ev != NULL && ev->failed && ev->by_program;
}

void events_stop_signal(struct events *ev, pid_t sender)
{
    pid_t self = getpid(), p = sender;

    if (ev == NULL || sender <= 0)
        return;
    /* Up the parent chain: a descendant of ours reaches us (bounded: a chain is short, and
     * a process that vanishes meanwhile just ends the walk). */
    for (int depth = 0; depth < 64 && p > 1; depth++) {
        char path[64], buf[512];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)p);
        FILE *f = fopen(path, "re");
        if (f == NULL)
            return;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        (void)fclose(f); /* read-only: nothing to lose */
        buf[n] = '\0';
        const char *rp = strrchr(buf, ')'); /* the command name may hold anything */
        int ppid;
        if (rp == NULL || sscanf(rp + 1, " %*c %d", &ppid) != 1)
            return;
        if (ppid == self) {
            ev->by_program = true;
            log_msg(LOG_LVL_INFO, "the stop signal came from pid %d, one of tend's programs",
                    (int)sender);
            return;
        }
        p = ppid;
    }
}

/* The protocol side of listener svc, with no pipes (any it had are closed), in its pool. */
static struct evproc *lp_get(struct service *svc)
{
    struct events *ev = svc->sup->events;
    struct evproc *lp = svc->evproc;

    if (lp == NULL) {
        lp = calloc(1, sizeof(*lp));
        if (lp == NULL)
            return NULL;
        lp->ev = ev;
        lp->svc = svc;
        lp->in_fd = lp->out_fd = lp->child_in = lp->child_out = -1;
        lp->in_w.fd = lp->out_w.fd = -1;
        lp->result_len = -1;
        svc->evproc = lp;
    } else {
        lp_close(lp);
    }
    lp->pool = pool_find(ev, svc->p.conf->program, true);
    if (lp->pool == NULL)
        return NULL;
    pool_configure(lp->pool, svc->p.conf);
    arm_tick(ev);
    return lp;
}

int events_child_fds(struct service *svc, int *in_fd, int *out_fd)
{
    struct events *ev = svc->sup->events;
    int in[2], out[2];

    if (ev == NULL || svc->p.conf->kind != PROC_KIND_LISTENER)
        return 0;
    struct evproc *lp = lp_get(svc);
    if (lp == NULL)
        return -1;
    if (pipe2(in, O_CLOEXEC) == -1)
        return -1;
    if (pipe2(out, O_CLOEXEC) == -1) {
        int saved = errno;
        fd_close_quiet(in[0]);
        fd_close_quiet(in[1]);
        errno = saved;
        return -1;
    }
    lp->child_in = in[0];
    lp->child_out = out[1];
    lp->in_fd = in[1];
    lp->out_fd = out[0];
    if (fd_set_nonblock(lp->in_fd) == -1 || fd_set_nonblock(lp->out_fd) == -1 ||
        loop_add(&ev->sup->loop, &lp->out_w, lp->out_fd, EPOLLIN, on_readable, lp) == -1) {
        int saved = errno;
        lp_close(lp);
        errno = saved;
        return -1;
    }
    lp->state = LS_ACK;
    *in_fd = lp->child_in;
    *out_fd = lp->child_out;
    return 0;
}

void events_after_spawn(struct service *svc, bool spawned)
{
    struct evproc *lp = svc->evproc;
    if (lp == NULL)
        return;
    fd_close_quiet(lp->child_in);
    fd_close_quiet(lp->child_out);
    lp->child_in = lp->child_out = -1;
    if (!spawned)
        lp_close(lp);
}

void events_release(struct service *svc)
{
    struct evproc *lp = svc->evproc;
    if (lp == NULL)
        return;
    lp_close(lp);
    /* Not dispatched here: the caller may be freeing the service table (sup_destroy). An
     * event it held goes to another listener of the pool from the loop, at once. */
    if (lp->pool != NULL && lp->pool->count > 0 && !timer_armed(&lp->ev->kick))
        (void)loop_timer_arm(&lp->ev->sup->loop, &lp->ev->kick, timer_now_ns()); /* fails
                                    * only without memory: then the next event dispatches */
    svc->evproc = NULL;
    loop_defer_free(&lp->ev->sup->loop, free, lp);
}

enum events_step events_handover(const struct service *svc, int fds[2])
{
    const struct evproc *lp = svc->evproc;

    fds[0] = fds[1] = -1;
    if (lp == NULL || lp->in_fd == -1 || lp->out_fd == -1)
        return EVS_NONE;
    fds[0] = lp->out_fd;
    fds[1] = lp->in_fd;
    if (lp->wbuf != NULL)
        return EVS_SENDING;
    return lp->state == LS_READY ? EVS_READY : lp->state == LS_BUSY ? EVS_BUSY : EVS_ACK;
}

int events_take_back(struct service *svc, const int fds[2], int step)
{
    struct events *ev = svc->sup->events;

    if (ev == NULL || svc->p.conf->kind != PROC_KIND_LISTENER || fds[0] < 0 || fds[1] < 0 ||
        step < EVS_ACK || step > EVS_BUSY) {
        errno = EPROTO; /* SENDING: nobody knows what the listener has read of its event */
        return -1;
    }
    struct evproc *lp = lp_get(svc);
    /* O_NONBLOCK is the pipes' (shared with the keeper's copies): set again in case. */
    if (lp == NULL || fd_set_nonblock(fds[0]) == -1 || fd_set_nonblock(fds[1]) == -1 ||
        loop_add(&ev->sup->loop, &lp->out_w, fds[0], EPOLLIN, on_readable, lp) == -1)
        return -1;
    lp->out_fd = fds[0];
    lp->in_fd = fds[1];
    /* Waiting for READY (ACK): the previous supervisor may have read that READY and died
     * before it recorded it, and then none will come. So it is taken as READY, and one
     * READY that comes after the next event is sent is the one it owed: the event waits in
     * its stdin until it reads it, as the protocol has it. */
    lp->state = step == EVS_BUSY ? LS_BUSY : LS_READY;
    lp->lost_event = step == EVS_BUSY;
    lp->spare_ready = step == EVS_ACK;
    return 0;
}
