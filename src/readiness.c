/* readiness: readiness=healthcheck and readiness=tcp become EV_READY (see readiness.h). */
#include <stdlib.h>

#include "config.h"
#include "health.h"
#include "readiness.h"
#include "supervisor.h"
#include "util/str.h"

static void on_probe(void *ctx, bool ok, int failures, const char *reason)
{
    struct service *svc = ctx;

    (void)failures;
    (void)reason;
    if (ok && svc->p.state == PROC_STARTING) {
        struct proc_event ev = {.kind = EV_READY};
        health_stop(svc->ready_probe);
        sup_apply(svc, &ev);
    }
}

/* A health check of kind TCP on the readiness host and port: a copy of the program's config
 * with only its health settings replaced, which health_new copies in turn. */
static struct health *probe_new(struct service *svc)
{
    const struct proc_conf *c = svc->p.conf;
    struct proc_conf t = *c;
    struct proc_health h = {.kind = HEALTH_TCP,
                            .host = proc_conf_ready(c)->host,
                            .port = proc_conf_ready(c)->port,
                            .interval = 1,
                            .timeout = 1,
                            .retries = 1,
                            .grace = 0};

    t.health = &h;
    return health_new(&svc->sup->loop, &t, on_probe, svc);
}

static void probe_sync(struct service *svc)
{
    if (svc->p.conf->readiness != READY_TCP) {
        readiness_free(svc);
        return;
    }
    if (svc->ready_probe == NULL)
        svc->ready_probe = probe_new(svc);
}

void readiness_after_apply(struct service *svc, const struct proc_event *ev,
                           const struct proc_effects *fx)
{
    if (svc->p.conf->readiness != READY_TCP && svc->ready_probe == NULL)
        return;
    if (fx->spawn || ev->kind == EV_EXEC_OK)
        probe_sync(svc); /* the config may have changed since the last start */
    if (svc->ready_probe == NULL)
        return;
    if (svc->p.state != PROC_STARTING || svc->p.pid == 0)
        health_stop(svc->ready_probe);
    else if (ev->kind == EV_EXEC_OK)
        health_start(svc->ready_probe);
}

void readiness_health(struct service *svc, bool ok)
{
    if (ok && svc->p.conf->readiness == READY_HEALTHCHECK && svc->p.state == PROC_STARTING) {
        struct proc_event ev = {.kind = EV_READY};
        sup_apply(svc, &ev);
    }
}

void readiness_resume(struct service *svc)
{
    if (svc->p.state == PROC_STARTING && svc->p.exec_ok && svc->p.pid != 0) {
        probe_sync(svc);
        if (svc->ready_probe != NULL)
            health_start(svc->ready_probe);
        /* readiness=healthcheck: sup_resume starts health checks of RUNNING programs only */
        if (svc->p.conf->readiness == READY_HEALTHCHECK && svc->health != NULL)
            health_start(svc->health);
    }
}

void readiness_free(struct service *svc)
{
    health_free(svc->ready_probe);
    svc->ready_probe = NULL;
}
