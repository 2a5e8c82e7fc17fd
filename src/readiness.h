/* readiness: turns a program's configured readiness (readiness=) into EV_READY for its state
 * machine. notify is notify.c's; healthcheck is the first pass of its health check
 * (health.c, which runs from the confirmed exec on); tcp:[HOST:]PORT is a probe built from
 * health.c's TCP check (one connection attempt a second, from the confirmed exec until the
 * first one accepted), so there is one TCP checker in tend, not two. */
#ifndef TEND_READINESS_H
#define TEND_READINESS_H

#include <stdbool.h>

struct service;
struct proc_effects;
struct proc_event;

/* After each state-machine step: starts the tcp probe on a confirmed exec while STARTING,
 * stops it otherwise. Creates or drops the probe when the config asks for it or not. */
void readiness_after_apply(struct service *svc, const struct proc_event *ev,
                           const struct proc_effects *fx);
/* A health check result for svc: its first pass makes a readiness=healthcheck program
 * ready. */
void readiness_health(struct service *svc, bool ok);
/* A supervisor restart: a STARTING program with a confirmed exec probes again. */
void readiness_resume(struct service *svc);
void readiness_free(struct service *svc);

#endif
