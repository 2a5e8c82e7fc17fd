/* deps: start and stop in dependency order (see deps.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deps.h"
#include "log.h"
#include "supervisor.h"
#include "util/str.h"

/* A service's place in the graph. Only services with a need or a dependent have one (most
 * have neither): NULL stands for no needs, no dependents, no wait, and a stop rank that is
 * the service's priority order. Once made it stays until the service is freed, so that a
 * rebuild never loses a wait in progress. */
struct deps {
    struct service **needs;    /* what it depends on (resolved depends_on=) */
    size_t nneeds;
    struct service **dependents; /* what depends on it */
    size_t ndependents;
    long long stop_rank;       /* shutdown order: by descending rank, dependents first */
    bool wait_start;           /* start once everything it needs is ready */
    bool wait_stop;            /* stop once nothing that needs it runs any more */
    bool start_after_stop;     /* ... then start again (a restart) */
};

static const struct deps no_deps; /* what a NULL svc->deps reads as (stop_rank aside) */

static const struct deps *deps_of(const struct service *svc)
{
    return svc->deps != NULL ? svc->deps : &no_deps;
}

/* svc's deps, made if it has none yet (a need or a dependent is being added). */
static struct deps *deps_make(struct service *svc)
{
    if (svc->deps == NULL)
        svc->deps = xcalloc(1, sizeof(*svc->deps));
    return svc->deps;
}

static bool is_ready(const struct service *svc)
{
    return svc->p.state == PROC_RUNNING;
}

/* Has a process, or is on its way to one (or to none). */
static bool is_active(const struct service *svc)
{
    switch (svc->p.state) {
    case PROC_STARTING:
    case PROC_RUNNING:
    case PROC_BACKOFF:
    case PROC_STOPPING:
    case PROC_UNKNOWN:
        return true;
    case PROC_STOPPED:
    case PROC_EXITED:
    case PROC_FATAL:
        return svc->p.pid != 0;
    }
    return svc->p.pid != 0;
}

bool deps_ready(const struct service *svc)
{
    const struct deps *d = deps_of(svc);

    for (size_t i = 0; i < d->nneeds; i++) {
        if (!is_ready(d->needs[i]))
            return false;
    }
    return true;
}

bool deps_held(const struct service *svc)
{
    const struct deps *d = deps_of(svc);

    return d->wait_start || d->wait_stop || d->start_after_stop;
}

bool deps_has_needs(const struct service *svc)
{
    return deps_of(svc)->nneeds > 0;
}

bool deps_start_waits(const struct service *svc)
{
    return deps_of(svc)->wait_start;
}

static const struct proc_conf *newest_conf(const struct service *svc)
{
    return svc->next_conf != NULL ? svc->next_conf : svc->p.conf;
}

long long deps_stop_rank(const struct service *svc)
{
    return svc->deps != NULL ? svc->deps->stop_rank : proc_conf_order(newest_conf(svc));
}

static bool blocked(const struct service *svc, int depth)
{
    const struct deps *d = deps_of(svc);

    if (depth > 64)
        return false; /* deeper than any sane tree: assume it moves */
    for (size_t i = 0; i < d->nneeds; i++) {
        const struct service *n = d->needs[i];
        if (is_ready(n))
            continue;
        if (n->p.state == PROC_FATAL || (!is_active(n) && !deps_start_waits(n)))
            return true;
        if (deps_start_waits(n) && blocked(n, depth + 1))
            return true;
    }
    return false;
}

bool deps_blocked(const struct service *svc)
{
    return deps_start_waits(svc) && blocked(svc, 0);
}

const char *deps_waiting(const struct service *svc, char *buf, size_t len)
{
    const struct deps *d = deps_of(svc);

    buf[0] = '\0';
    if (!d->wait_start)
        return buf;
    for (size_t i = 0; i < d->nneeds; i++) {
        const struct service *n = d->needs[i];
        if (!is_ready(n)) {
            snprintf(buf, len, "waiting for %s: not ready (%s)", n->display,
                     proc_state_name(n->p.state));
            return buf;
        }
    }
    return buf;
}

static void push(struct service ***vec, size_t *n, struct service *s)
{
    for (size_t i = 0; i < *n; i++) {
        if ((*vec)[i] == s)
            return;
    }
    *vec = xrealloc(*vec, (*n + 1) * sizeof(**vec));
    (*vec)[(*n)++] = s;
}

/* Empties the arrays; the waits stay. */
static void clear_links(struct deps *d)
{
    free(d->needs);
    free(d->dependents);
    d->needs = d->dependents = NULL;
    d->nneeds = d->ndependents = 0;
}

void deps_free(struct service *svc)
{
    if (svc->deps == NULL)
        return;
    clear_links(svc->deps);
    free(svc->deps);
    svc->deps = NULL;
}

void deps_rebuild(struct supervisor *sup)
{
    bool changed = true;

    for (size_t i = 0; i < sup->nsvcs; i++) {
        if (sup->svcs[i]->deps != NULL)
            clear_links(sup->svcs[i]->deps);
    }
    for (size_t i = 0; i < sup->nsvcs; i++) {
        struct service *s = sup->svcs[i];
        const struct proc_conf *c = newest_conf(s);
        if (s->removing)
            continue;
        for (char **d = c->depends_on; d != NULL && *d != NULL; d++) {
            for (size_t j = 0; j < sup->nsvcs; j++) {
                struct service *t = sup->svcs[j];
                const struct proc_conf *tc = newest_conf(t);
                if (t == s || t->removing)
                    continue;
                if (strcmp(tc->name, *d) == 0 || strcmp(tc->program, *d) == 0 ||
                    strcmp(tc->group, *d) == 0) {
                    struct deps *sd = deps_make(s), *td = deps_make(t);
                    push(&sd->needs, &sd->nneeds, t);
                    push(&td->dependents, &td->ndependents, s);
                }
            }
        }
    }
    /* stop_rank = min(priority, rank of each dependent - 1): shutdown (by descending rank)
     * stops dependents first, and keeps priority's order otherwise. The graph is acyclic,
     * so relaxing until nothing changes ends within its depth + 1 passes. A service without
     * deps has its priority's rank (deps_stop_rank). */
    for (size_t i = 0; i < sup->nsvcs; i++) {
        struct service *s = sup->svcs[i];
        if (s->deps != NULL)
            s->deps->stop_rank = proc_conf_order(newest_conf(s));
    }
    for (size_t pass = 0; changed && pass <= sup->nsvcs; pass++) {
        changed = false;
        for (size_t i = 0; i < sup->nsvcs; i++) {
            struct deps *sd = sup->svcs[i]->deps;
            for (size_t k = 0; sd != NULL && k < sd->ndependents; k++) {
                long long r = deps_stop_rank(sd->dependents[k]);
                if (r > LLONG_MIN + 1 && r - 1 < sd->stop_rank) {
                    sd->stop_rank = r - 1;
                    changed = true;
                }
            }
        }
    }
    /* A reload may have removed what a waiting service needed. */
    for (size_t i = 0; i < sup->nsvcs; i++) {
        struct service *s = sup->svcs[i];
        if (s->deps != NULL && s->deps->wait_start && deps_ready(s)) {
            s->deps->wait_start = false;
            sup_start(s);
        }
    }
}

bool deps_hold_start(struct service *svc)
{
    struct deps *d = svc->deps;

    if (d == NULL)
        return false; /* nothing to wait for, nothing held */
    if (d->wait_stop) {
        d->start_after_stop = true;
        return true;
    }
    if (d->nneeds == 0 || is_ready(svc) || svc->p.state == PROC_STARTING ||
        svc->p.state == PROC_BACKOFF)
        return false;
    if (deps_ready(svc)) {
        d->wait_start = false;
        return false;
    }
    if (!d->wait_start) {
        char why[200];
        d->wait_start = true;
        log_msg(LOG_LVL_INFO, "%s: %s", svc->display, deps_waiting(svc, why, sizeof(why)));
    }
    /* What it needs starts first (each of those may wait in turn). */
    for (size_t i = 0; i < d->nneeds; i++) {
        struct service *n = d->needs[i];
        if (!is_active(n) && !deps_start_waits(n))
            sup_start(n);
    }
    return true;
}

/* Stops svc because something it depends on stops; it comes back once that is ready. One
 * already on its way down (a user's stop) stays down. svc has deps (it is a dependent). */
static void stop_for_need(struct service *svc)
{
    bool comeback = svc->p.state != PROC_STOPPING || svc->p.pending_start;

    if (!is_active(svc))
        return; /* down already; one waiting to start goes on waiting */
    bool held = deps_hold_stop(svc);
    deps_make(svc)->wait_start = comeback;
    if (!held) {
        struct proc_event ev = {.kind = EV_STOP};
        sup_apply(svc, &ev);
    }
}

bool deps_hold_stop(struct service *svc)
{
    struct deps *d = svc->deps;
    bool busy = false;

    if (d == NULL)
        return false; /* no dependents: nothing to stop first */
    /* A stop of this service itself: it no longer waits to start. */
    d->wait_start = false;
    d->start_after_stop = false;
    for (size_t i = 0; i < d->ndependents; i++) {
        struct service *dep = d->dependents[i];
        stop_for_need(dep);
        if (is_active(dep))
            busy = true;
    }
    if (busy && !d->wait_stop) {
        d->wait_stop = true;
        log_msg(LOG_LVL_INFO, "%s: stopping what depends on it first", svc->display);
    }
    return busy;
}

void deps_after_apply(struct service *svc, const struct proc_effects *fx)
{
    struct supervisor *sup = svc->sup;
    struct deps *d = svc->deps;

    if (d == NULL || fx->from == fx->to || sup->shutting_down)
        return;
    if (fx->to == PROC_RUNNING) {
        for (size_t i = 0; i < d->ndependents; i++) {
            struct service *dep = d->dependents[i];
            if (dep->deps != NULL && dep->deps->wait_start && deps_ready(dep)) {
                dep->deps->wait_start = false;
                sup_start(dep);
            }
        }
    }
    if (is_active(svc))
        return;
    for (size_t i = 0; i < d->nneeds; i++) {
        struct service *n = d->needs[i];
        struct deps *nd = n->deps; /* n has svc as a dependent: never NULL */
        bool busy = false;
        if (nd == NULL || !nd->wait_stop)
            continue;
        for (size_t k = 0; k < nd->ndependents && !busy; k++)
            busy = is_active(nd->dependents[k]);
        if (busy)
            continue;
        nd->wait_stop = false;
        bool again = nd->start_after_stop;
        nd->start_after_stop = false;
        struct proc_event ev = {.kind = EV_STOP};
        sup_apply(n, &ev);
        if (again)
            sup_start(n);
    }
}
