/* reload: rereading the config and applying only the difference (see reload.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alert.h"
#include "confsnap.h"
#include "fdbudget.h"
#include "fdring.h"
#include "handover.h"
#include "health.h"
#include "log.h"
#include "logcap.h"
#include "deps.h"
#include "reload.h"
#include "sdnotify.h"
#include "supervisor.h"
#include "util/fd.h"
#include "util/str.h"


static int diag_cmp(const void *a, const void *b)
{
    const struct config_diag *x = a, *y = b;
    int c = strcmp(x->file ? x->file : "", y->file ? y->file : "");

    return c != 0 ? c : (x->line > y->line) - (x->line < y->line);
}

/* Checks config has nothing the supervisor itself cannot run (a health check on a host name
 * would need a blocking lookup). Appends errors to diags; returns -1 if there were any. */
int reload_validate(const struct config *cfg, struct config_diags *diags)
{
    int rc = 0;

    for (size_t i = 0; i < cfg->nprocs; i++) {
        const struct proc_conf *c = cfg->procs[i];
        char msg[256];
        if (proc_conf_health(c)->kind == HEALTH_NONE || health_validate(c, msg, sizeof(msg)) == 0)
            continue;
        if (diags->count == diags->cap) {
            diags->cap = diags->cap ? diags->cap * 2 : 8;
            diags->items = xrealloc(diags->items, diags->cap * sizeof(*diags->items));
        }
        diags->items[diags->count++] = (struct config_diag){
            .file = xstrdup(c->file),
            .line = proc_conf_health(c)->line > 0 ? proc_conf_health(c)->line : c->line,
            .is_error = true,
            .msg = xasprintf("[program:%s] healthcheck: %s", c->program, msg)};
        diags->errors++;
        rc = -1;
    }
    /* Keep the config module's order: by file, then line. */
    if (rc == -1)
        qsort(diags->items, diags->count, sizeof(*diags->items), diag_cmp);
    return rc;
}

void reload_set_instance_logdir(struct tend_conf *t, const char *config_path)
{
    char *dir = logcap_instance_dir(t->childlogdir, t->identifier, config_path);

    if (dir == NULL)
        return;
    free(t->childlogdir);
    t->childlogdir = dir;
}

static void report_line(void (*report)(const char *, void *), void *ctx, const char *verb,
                        const char *name)
{
    char line[512];

    snprintf(line, sizeof(line), "%s %s", verb, name);
    log_msg(LOG_LVL_INFO, "reload: %s", line);
    if (report != NULL)
        report(line, ctx);
}

static bool str_differs(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0);
}

static bool deps_list_equal(char *const *a, char *const *b)
{
    while (a != NULL && b != NULL && *a != NULL && *b != NULL && strcmp(*a, *b) == 0) {
        a++;
        b++;
    }
    return (a == NULL || *a == NULL) && (b == NULL || *b == NULL);
}

/* The policy keys that differ between a and b (those proc_conf_equal leaves out), as
 * "key, key" into buf; "" when none does. */
static const char *policy_changes(const struct proc_conf *a, const struct proc_conf *b,
                                  char *buf, size_t len)
{
    struct {
        const char *key;
        bool differs;
    } keys[] = {
        {"priority", a->priority != b->priority},
        /* A program of a group of its own has its own priority as its group's: said once. */
        {"[group] priority",
         a->group_priority != b->group_priority &&
             (a->group_priority != a->priority || b->group_priority != b->priority)},
        {"autostart", a->autostart != b->autostart},
        {"startsecs", a->startsecs != b->startsecs},
        {"startretries", a->startretries != b->startretries},
        {"autorestart", a->autorestart != b->autorestart},
        {"exitcodes",
         memcmp(proc_conf_exitcodes(a), proc_conf_exitcodes(b), 4 * sizeof(uint64_t)) != 0},
        {"stopsignal", a->stopsignal != b->stopsignal},
        {"stopwaitsecs", a->stopwaitsecs != b->stopwaitsecs},
        {"stopasgroup", a->stopasgroup != b->stopasgroup},
        {"killasgroup", a->killasgroup != b->killasgroup},
        {"healthcheck", str_differs(proc_conf_health(a)->spec, proc_conf_health(b)->spec)},
        {"healthcheck_interval", proc_conf_health(a)->interval != proc_conf_health(b)->interval},
        {"healthcheck_timeout", proc_conf_health(a)->timeout != proc_conf_health(b)->timeout},
        {"healthcheck_retries", proc_conf_health(a)->retries != proc_conf_health(b)->retries},
        {"healthcheck_grace", proc_conf_health_grace(a) != proc_conf_health_grace(b)},
        {"on_event", str_differs(a->on_event, b->on_event)},
        {"depends_on", !deps_list_equal(a->depends_on, b->depends_on)},
        {"readiness", a->readiness != b->readiness ||
                          proc_conf_ready(a)->port != proc_conf_ready(b)->port ||
                          str_differs(proc_conf_ready(a)->host, proc_conf_ready(b)->host)},
        {"startwaitsecs", proc_conf_ready(a)->startwaitsecs != proc_conf_ready(b)->startwaitsecs},
    };
    size_t n = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (!keys[i].differs)
            continue;
        int w = snprintf(buf + n, len - n, "%s%s", n > 0 ? ", " : "", keys[i].key);
        if (w < 0 || (size_t)w >= len - n)
            break; /* the list is cut: it only informs */
        n += (size_t)w;
    }
    return buf;
}

static bool svc_has_process(const struct service *svc)
{
    return svc->p.pid != 0 || svc->p.state == PROC_BACKOFF;
}

void reload_apply_budget(struct supervisor *sup, const struct fdbudget *b)
{
    logcap_set_file_cap(b->file_cap);
    if (b->ring == 0) {
        logcap_set_pipe_cap((size_t)-1);
        return;
    }
    /* Past the limit: the read ends that do not fit go to the ring (kept if one is up). */
    if (fdring_open(&sup->loop, (unsigned)b->ring_slots) == -1) {
        log_msg(LOG_LVL_ERROR, "cannot set up an io_uring to hold %lu capture pipes past the "
                "descriptor limit: %s; programs that do not fit wait for descriptors",
                b->ring, strerror(errno));
        logcap_set_pipe_cap((size_t)-1);
        return;
    }
    handover_set_ring(sup->handover, fdring_ring_fd(), fdring_slots());
    logcap_set_pipe_cap(b->pipe_cap);
    log_msg(LOG_LVL_INFO, "descriptors: %lu capture pipes past the limit are held in an "
            "io_uring (room for %u)", b->ring, fdring_slots());
}

static int reload_config(struct supervisor *sup, struct config_diags *diags,
                         void (*report)(const char *line, void *ctx), void *ctx)
{
    struct config *cfg = NULL;
    struct service **added = NULL;
    size_t nadded = 0;

    /* What this load reads becomes the config in force for a restarted supervisor. */
    int snap_fd = confsnap_create();
    if (snap_fd == -1)
        log_msg(LOG_LVL_WARN, "reload: cannot keep the configuration in force: %s (a "
                "restarted supervisor would read %s again)", strerror(errno), sup->config_path);
    if (config_load_ex(sup->config_path, &cfg, diags, snap_fd, NULL) == -1 ||
        reload_validate(cfg, diags) == -1) {
        fd_close_quiet(snap_fd);
        config_free(cfg);
        log_msg(LOG_LVL_ERROR, "reload: %s has errors; nothing changed", sup->config_path);
        for (size_t i = 0; i < diags->count; i++) {
            char buf[1024];
            config_diag_format(&diags->items[i], buf, sizeof(buf));
            log_msg(LOG_LVL_ERROR, "%s", buf);
        }
        return -1;
    }
    {
        /* The new config must fit the descriptor limit (raised if tend may). */
        struct fdbudget b;
        char msg[512];
        fdbudget_count(cfg, &b);
        if (fdbudget_fit(&b, handover_keeper_pid(sup->handover), msg, sizeof(msg)) == -1) {
            config_free(cfg);
            log_msg(LOG_LVL_ERROR, "reload: %s: %s; nothing changed", sup->config_path, msg);
            if (diags->count == diags->cap) {
                diags->cap = diags->cap ? diags->cap * 2 : 8;
                diags->items = xrealloc(diags->items, diags->cap * sizeof(*diags->items));
            }
            diags->items[diags->count++] = (struct config_diag){
                .file = xstrdup(sup->config_path), .line = 0, .is_error = true,
                .msg = xstrdup(msg)};
            diags->errors++;
            errno = EMFILE;
            return -1;
        }
        reload_apply_budget(sup, &b);
    }
    reload_set_instance_logdir(&cfg->tend, sup->config_path);
    added = calloc(cfg->nprocs + 1, sizeof(*added));
    if (added == NULL) {
        fd_close_quiet(snap_fd);
        config_free(cfg);
        errno = ENOMEM;
        return -1;
    }
    /* Removed: in the table but not in the new config. */
    for (size_t i = 0; i < sup->nsvcs; i++) {
        struct service *svc = sup->svcs[i];
        if (!svc->removing && config_find_proc(cfg, svc->p.conf->name) == NULL) {
            svc->removing = true;
            report_line(report, ctx, "removed", svc->display);
        }
    }
    /* Added and changed. Each new process config is taken over from cfg by a service. */
    for (size_t i = 0; i < cfg->nprocs; i++) {
        struct proc_conf *nc = cfg->procs[i];
        struct service *svc = NULL;
        for (size_t j = 0; j < sup->nsvcs; j++) {
            if (!sup->svcs[j]->removing && strcmp(sup->svcs[j]->p.conf->name, nc->name) == 0)
                svc = sup->svcs[j];
        }
        cfg->procs[i] = NULL;
        if (svc == NULL) {
            struct service *fresh = svc_new(sup, nc);
            if (fresh == NULL) {
                log_msg(LOG_LVL_ERROR, "reload: out of memory adding %s", nc->name);
                proc_conf_free(nc);
                continue;
            }
            added[nadded++] = fresh;
            report_line(report, ctx, "added", fresh->display);
        } else if (proc_conf_equal(svc->p.conf, nc)) {
            /* Only policy changed (or nothing): the process keeps running untouched, and
             * the change is said all the same. */
            char keys[300], what[400];
            if (policy_changes(svc->p.conf, nc, keys, sizeof(keys))[0] != '\0') {
                snprintf(what, sizeof(what), "%s (%s; the process keeps running)",
                         svc->display, keys);
                report_line(report, ctx, "updated", what);
            }
            proc_conf_free(svc->p.conf);
            svc->p.conf = nc;
            svc_set_display(svc); /* it may borrow the name of the conf just freed */
            svc_set_health(svc);
            svc_set_logcap(svc, cfg->tend.childlogdir);
        } else {
            report_line(report, ctx, "changed", svc->display);
            if (svc->next_conf != NULL)
                proc_conf_free(svc->next_conf);
            svc->next_conf = nc;
        }
    }
    /* Grow the table for the new services. */
    if (nadded > 0) {
        struct service **t = realloc(sup->svcs, (sup->nsvcs + nadded) * sizeof(*t));
        if (t == NULL) {
            for (size_t i = 0; i < nadded; i++)
                svc_free(added[i]);
            nadded = 0;
            log_msg(LOG_LVL_ERROR, "reload: out of memory; new programs not added");
        } else {
            sup->svcs = t;
            memcpy(sup->svcs + sup->nsvcs, added, nadded * sizeof(*t));
            sup->nsvcs += nadded;
        }
    }
    config_free(sup->config);
    sup->config = cfg;
    if (snap_fd != -1 && handover_set_config_fd(sup->handover, snap_fd) == -1)
        log_msg(LOG_LVL_WARN, "reload: cannot hand the configuration in force to the keeper: "
                "%s", strerror(errno));
    logcap_strip_ansi = cfg->tend.strip_ansi;
    /* svc_new above made the added programs' logcaps under the old [tend] childlogdir. */
    for (size_t i = 0; i < nadded; i++)
        svc_set_logcap(added[i], cfg->tend.childlogdir);
    sup_sort(sup);
    log_msg(LOG_LVL_INFO, "reload: %s applied", sup->config_path);
    sup->reloads++;
    if (sup->alerts != NULL) {
        struct alert_event ae = {.event = CONFIG_EV_CONFIG_RELOADED, .program = "tend",
                                 .group = "tend", .process = "tend", .pid = getpid(),
                                 .wait_status = -1, .reason = sup->config_path};
        alerts_configure(sup->alerts, cfg);
        alerts_fire(sup->alerts, &ae);
    }

    /* Dependencies by difference: the graph follows the new config, and a program whose
     * wait is over starts (after alerts_configure: a start may fire an alert). */
    deps_rebuild(sup);
    /* Act, in priority order: stop the removed and changed, start the added. */
    for (size_t i = sup->nsvcs; i-- > 0;) {
        struct service *svc = sup->svcs[i];
        if (svc->removing || svc->next_conf != NULL) {
            if (svc_has_process(svc))
                sup_stop(svc);
            else
                sup_after_stop(svc);
        }
    }
    for (size_t i = 0; i < nadded; i++) {
        if (added[i]->p.conf->autostart)
            sup_start(added[i]);
    }
    free(added);
    return 0;
}

/* Whether the new config would change the running process (or its policy). */
static bool proc_differs(const struct service *svc, const struct proc_conf *nc)
{
    char keys[300];

    return !proc_conf_equal(svc->p.conf, nc) ||
           policy_changes(svc->p.conf, nc, keys, sizeof(keys))[0] != '\0';
}

/* A reread changes nothing, so it is not logged as a reload line is. */
static void reread_line(void (*report)(const char *, void *), void *ctx, const char *verb,
                        const char *group)
{
    char line[512];

    snprintf(line, sizeof(line), "%s %s", verb, group);
    if (report != NULL)
        report(line, ctx);
}

static bool group_running(const struct supervisor *sup, const char *group)
{
    for (size_t i = 0; i < sup->nsvcs; i++) {
        if (!sup->svcs[i]->removing && strcmp(sup->svcs[i]->p.conf->group, group) == 0)
            return true;
    }
    return false;
}

int reload_reread(struct supervisor *sup, struct config_diags *diags,
                  void (*report)(const char *line, void *ctx), void *ctx)
{
    struct config *cfg = NULL;

    if (config_load(sup->config_path, &cfg, diags) == -1 ||
        reload_validate(cfg, diags) == -1) {
        config_free(cfg);
        return -1;
    }
    /* Added and changed, a group at a time, each group once (at its first process). */
    for (size_t i = 0; i < cfg->nprocs; i++) {
        const char *g = cfg->procs[i]->group;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(cfg->procs[j]->group, g) == 0;
        if (seen)
            continue;
        if (!group_running(sup, g)) {
            reread_line(report, ctx, "added", g);
            continue;
        }
        bool changed = false;
        for (size_t j = i; j < cfg->nprocs && !changed; j++) {
            const struct proc_conf *nc = cfg->procs[j];
            if (strcmp(nc->group, g) != 0)
                continue;
            const struct service *svc = NULL;
            for (size_t m = 0; m < sup->nsvcs && svc == NULL; m++) {
                if (!sup->svcs[m]->removing && strcmp(sup->svcs[m]->p.conf->name, nc->name) == 0)
                    svc = sup->svcs[m];
            }
            changed = svc == NULL || strcmp(svc->p.conf->group, g) != 0 || proc_differs(svc, nc);
        }
        /* A process of the group that the new config no longer has changes it too. */
        for (size_t m = 0; m < sup->nsvcs && !changed; m++) {
            const struct service *svc = sup->svcs[m];
            changed = !svc->removing && strcmp(svc->p.conf->group, g) == 0 &&
                      config_find_proc(cfg, svc->p.conf->name) == NULL;
        }
        if (changed)
            reread_line(report, ctx, "changed", g);
    }
    /* Removed: a running group with no process left in the new config. */
    for (size_t i = 0; i < sup->nsvcs; i++) {
        const char *g = sup->svcs[i]->p.conf->group;
        bool seen = sup->svcs[i]->removing;
        for (size_t j = 0; j < i && !seen; j++)
            seen = !sup->svcs[j]->removing && strcmp(sup->svcs[j]->p.conf->group, g) == 0;
        for (size_t j = 0; j < cfg->nprocs && !seen; j++)
            seen = strcmp(cfg->procs[j]->group, g) == 0;
        if (!seen)
            reread_line(report, ctx, "removed", g);
    }
    /* Then every process of the reread config, for supervisorctl's avail. */
    for (size_t i = 0; i < cfg->nprocs && report != NULL; i++) {
        const struct proc_conf *q = cfg->procs[i];
        char line[1200];
        snprintf(line, sizeof(line), "config\t%d\t%d\t%d\t%s\t%s", q->autostart ? 1 : 0,
                 q->priority, q->group_priority, q->group, q->name);
        report(line, ctx);
    }
    config_free(cfg);
    return 0;
}


int sup_reload(struct supervisor *sup, struct config_diags *diags,
               void (*report)(const char *line, void *ctx), void *ctx)
{
    sdnotify_reloading();
    int r = reload_config(sup, diags, report, ctx);
    sdnotify_reloaded();
    return r;
}
