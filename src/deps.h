/* deps: dependencies between running services (depends_on=), on top of the state machine.
 * A service is *ready* when it is RUNNING (which, with a readiness= other than startsecs,
 * means it said or showed so). The rules:
 *
 * - a start waits until everything the service needs is ready (deps_start_waits: "waiting
 *   for db: not ready" in `tend status`), and starts what it needs that is down first;
 *   the wait ends when the last need becomes ready, never by polling;
 * - a stop (or restart) of a service first stops what depends on it, transitively, and
 *   marks those to come back; it stops itself once they are all down;
 * - shutdown goes by deps_stop_rank (dependents before what they need, then priority);
 * - a need that goes FATAL leaves its dependents waiting, not crash-looping.
 *
 * The graph is resolved from each service's depends_on (a process, program or group
 * name; config.c has rejected unknown names and cycles) whenever the table changes. It lives
 * in a struct deps of deps.c's, which only a service with a need or a dependent has
 * (svc->deps; NULL: none). */
#ifndef TEND_DEPS_H
#define TEND_DEPS_H

#include <stdbool.h>
#include <stddef.h>

struct supervisor;
struct service;
struct proc_effects;

/* Resolves needs and dependents and computes stop ranks for the whole table; then starts
 * the services whose wait is over (a reload removed a need). */
void deps_rebuild(struct supervisor *sup);
/* Frees the service's deps, if any (svc_free). */
void deps_free(struct service *svc);
/* Shutdown order: by descending rank, dependents before what they need, else by priority
 * (proc_conf_order). */
long long deps_stop_rank(const struct service *svc);
/* Whether it depends on anything. */
bool deps_has_needs(const struct service *svc);
/* Whether a start of it waits for its needs to be ready. */
bool deps_start_waits(const struct service *svc);
/* For sup_start: true when the start is held until the needs are ready (they are started
 * meanwhile), or until a held stop is done. */
bool deps_hold_start(struct service *svc);
/* For sup_stop outside shutdown: true when the stop is held until the dependents are down
 * (they are being stopped now, and will come back when svc is ready again). */
bool deps_hold_stop(struct service *svc);
/* After each state-machine step of svc: a service that became ready starts its waiting
 * dependents; one that went down lets a held stop of what it needs go ahead. */
void deps_after_apply(struct service *svc, const struct proc_effects *fx);
/* "waiting for db: not ready" when the service waits for a need, else "" (buf). */
const char *deps_waiting(const struct service *svc, char *buf, size_t len);
/* Whether a start or stop of svc is held by its dependencies (for waiting clients). */
bool deps_held(const struct service *svc);
/* Whether a held start cannot go ahead without someone's help: something it needs,
 * directly or further down, is FATAL or down and not about to start. */
bool deps_blocked(const struct service *svc);
/* Whether every need is ready. */
bool deps_ready(const struct service *svc);

#endif
