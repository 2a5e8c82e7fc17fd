/* deps: start and stop in dependency order (see deps.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deps.h"
#include "log.h"
#include "supervisor.h"
#include "util/str.h"

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
    for (size_t i = 0; i < svc->nneeds; i++) {
        if (!is_ready(svc->needs[i]))
            return false;
    }
    return true;
}

bool deps_held(const struct service *svc)
{
    return svc->dep_wait_start || svc->dep_wait_stop || svc->dep_start_after_stop;
}

static bool blocked(const struct service *svc, int depth)
{
    if (depth > 64)
        return false; /* deeper than any sane tree: assume it moves */
    for (size_t i = 0; i < svc->nneeds; i++) {
        const struct service *n = svc->needs[i];
        if (is_ready(n))
            continue;
        if (n->p.state == PROC_FATAL || (!is_active(n) && !n->dep_wait_start))
            return true;
        if (n->dep_wait_start && blocked(n, depth + 1))
            return true;
    }
    return false;
}

bool deps_blocked(const struct service *svc)
{
    return svc->dep_wait_start && blocked(svc, 0);
}

const char *deps_waiting(const struct service *svc, char *buf, size_t len)
{
    buf[0] = '\0';
    if (!svc->dep_wait_start)
        return buf;
    for (size_t i = 0; i < svc->nneeds; i++) {
        const struct service *n = svc->needs[i];
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

void deps_free(struct service *svc)
{
    free(svc->needs);
    free(svc->dependents);
    svc->needs = svc->dependents = NULL;
    svc->nneeds = svc->ndependents = 0;
}

static const struct proc_conf *newest_conf(const struct service *svc)
{
    return svc->next_conf != NULL ? svc->next_conf : svc->p.conf;
}

void deps_rebuild(struct supervisor *sup)
{
    bool changed = true;

    for (size_t i = 0; i < sup->nsvcs; i++)
        deps_free(sup->svcs[i]);
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
                    push(&s->needs, &s->nneeds, t);
                    push(&t->dependents, &t->ndependents, s);
                }
            }
        }
    }
    /* stop_rank = min(priority, rank of each dependent - 1): shutdown (by descending rank)
     * stops dependents first, and keeps priority's order otherwise. The graph is acyclic,
     * so relaxing until nothing changes ends within its depth + 1 passes. */
    for (size_t i = 0; i < sup->nsvcs; i++)
        sup->svcs[i]->stop_rank = proc_conf_order(newest_conf(sup->svcs[i]));
    for (size_t pass = 0; changed && pass <= sup->nsvcs; pass++) {
        changed = false;
        for (size_t i = 0; i < sup->nsvcs; i++) {
            struct service *s = sup->svcs[i];
            for (size_t k = 0; k < s->ndependents; k++) {
                long long r = s->dependents[k]->stop_rank;
                if (r > LLONG_MIN + 1 && r - 1 < s->stop_rank) {
                    s->stop_rank = r - 1;
                    changed = true;
                }
            }
        }
    }
    /* A reload may have removed what a waiting service needed. */
    for (size_t i = 0; i < sup->nsvcs; i++) {
        struct service *s = sup->svcs[i];
        if (s->dep_wait_start && deps_ready(s)) {
            s->dep_wait_start = false;
            sup_start(s);
        }
    }
}

bool deps_hold_start(struct service *svc)
{
    if (svc->dep_wait_stop) {
        svc->dep_start_after_stop = true;
        return true;
    }
    if (svc->nneeds == 0 || is_ready(svc) || svc->p.state == PROC_STARTING ||
        svc->p.state == PROC_BACKOFF)
        return false;
    if (deps_ready(svc)) {
        svc->dep_wait_start = false;
        return false;
    }
    if (!svc->dep_wait_start) {
        char why[200];
        svc->dep_wait_start = true;
        log_msg(LOG_LVL_INFO, "%s: %s", svc->display, deps_waiting(svc, why, sizeof(why)));
    }
    /* What it needs starts first (each of those may wait in turn). */
    for (size_t i = 0; i < svc->nneeds; i++) {
        struct service *n = svc->needs[i];
        if (!is_active(n) && !n->dep_wait_start)
            sup_start(n);
    }
    return true;
}

/* Stops svc because something it depends on stops; it comes back once that is ready. One
 * already on its way down (a user's stop) stays down. */
static void stop_for_need(struct service *svc)
{
    bool comeback = svc->p.state != PROC_STOPPING || svc->p.pending_start;

    if (!is_active(svc))
        return; /* down already; one waiting to start goes on waiting */
    bool held = deps_hold_stop(svc);
    svc->dep_wait_start = comeback;
    if (!held) {
        struct proc_event ev = {.kind = EV_STOP};
        sup_apply(svc, &ev);
    }
}

bool deps_hold_stop(struct service *svc)
{
    bool busy = false;

    /* A stop of this service itself: it no longer waits to start. */
    svc->dep_wait_start = false;
    svc->dep_start_after_stop = false;
    for (size_t i = 0; i < svc->ndependents; i++) {
        struct service *d = svc->dependents[i];
        stop_for_need(d);
        if (is_active(d))
            busy = true;
    }
    if (busy && !svc->dep_wait_stop) {
        svc->dep_wait_stop = true;
        log_msg(LOG_LVL_INFO, "%s: stopping what depends on it first", svc->display);
    }
    return busy;
}

void deps_after_apply(struct service *svc, const struct proc_effects *fx)
{
    struct supervisor *sup = svc->sup;

    if (fx->from == fx->to || sup->shutting_down)
        return;
    if (fx->to == PROC_RUNNING) {
        for (size_t i = 0; i < svc->ndependents; i++) {
            struct service *d = svc->dependents[i];
            if (d->dep_wait_start && deps_ready(d)) {
                d->dep_wait_start = false;
                sup_start(d);
            }
        }
    }
    if (is_active(svc))
        return;
    for (size_t i = 0; i < svc->nneeds; i++) {
        struct service *n = svc->needs[i];
        bool busy = false;
        if (!n->dep_wait_stop)
            continue;
        for (size_t k = 0; k < n->ndependents && !busy; k++)
            busy = is_active(n->dependents[k]);
        if (busy)
            continue;
        n->dep_wait_stop = false;
        bool again = n->dep_start_after_stop;
        n->dep_start_after_stop = false;
        struct proc_event ev = {.kind = EV_STOP};
        sup_apply(n, &ev);
        if (again)
            sup_start(n);
    }
}
