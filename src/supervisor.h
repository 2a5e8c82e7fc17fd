/* supervisor: the service table and its dispatch. Owns the event loop and every service;
 * drives each service's state machine (proc.c) from kernel events (SIGCHLD through a
 * signalfd, report pipes, pidfds, the deadline timer) and from requests of the control
 * socket. Its neighbours: launch (spawning an instance), adopt (pidfile programs), reload
 * (applying a new config), daemon (start-up), control (the socket). */
#ifndef TEND_SUPERVISOR_H
#define TEND_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "cgroup.h"
#include "config.h"
#include "launch.h"
#include "loop.h"
#include "proc.h"
#include "timer.h"

struct supervisor;
struct deps;
struct adoption;

/* One supervised process instance. Tend keeps one per program: the pointers come first, then
 * the 4-byte fields, then the flags, one bit each, so that there is no padding between them
 * (272 bytes on LP64, checked in supervisor.c). What only some programs use lives in side
 * structures allocated for those (adopt, deps, health, logcap, notify...). */
struct service {
    struct proc p;             /* policy state; p.conf is owned */
    struct supervisor *sup;
    struct timer timer;        /* mirrors p.deadline_ns */
    struct service *spawn_next, *spawn_prev; /* in the spawn queue (launch.c) */
    /* the watch on pidfd: allocated while there is one (adopt.c), NULL otherwise */
    struct watcher *pidfd_w;
    struct adoption *adopt;    /* pidfile= programs' wait and launcher (adopt.c); NULL: none */
    struct proc_conf *next_conf;    /* reload: apply once the old instance has stopped */
    struct health *health;     /* NULL without healthcheck= */
    struct logcap *logcap;     /* stdout/stderr capture; its pipes outlive each instance */
    struct cgroup_svc *cg;     /* its process tree (cgroup.c) */
    char *display;             /* "group:name", or "name" when the group has its name: then
                                * p.conf's own (display_owned false) */
    struct evproc *evproc;     /* [eventlistener:x]: its protocol pipes (events.c) */
    struct fcgi_sock *fcgi;    /* [fcgi-program:x]: the socket it gets as stdin (fcgi.c) */
    /* readiness and dependencies (issue 15; deps.c, notify.c) */
    struct notify *notify;     /* its $NOTIFY_SOCKET, NULL when it needs none */
    struct health *ready_probe; /* readiness=tcp: connection attempts while STARTING */
    struct deps *deps;         /* its needs and dependents (deps.c); NULL: none */
    uint64_t id_lo_ns, id_hi_ns;   /* CLOCK_BOOTTIME window of p.pid's start (launcher_pid's
                                    * is in adopt); for the handover */
    /* pidfile= programs: the command (the launcher) daemonizes and writes a pidfile. */
    pid_t launcher_pid;        /* the command we spawned, until it exits */
    uid_t run_uid;             /* the user it runs as (a pidfile may belong to it) */
    int pidfd;                 /* adopted process that is not our descendant */
    /* handover (a supervisor restart continues from here) */
    int slot;                  /* its slot in the handover state, -1: none */
    bool kept : 1;             /* its process or launcher is the keeper's child (taken back
                                * from a dead supervisor): the keeper reports the exit */
    bool spawning : 1;         /* between the decision to fork and the recorded pid */
    bool restored : 1;         /* restored from a previous supervisor's state */
    bool restored_gone : 1;    /* ... without its process: the keeper's record decides */
    /* the other flags */
    bool spawn_queued : 1;     /* in the spawn queue */
    bool resume_spawn : 1;     /* restored while queued: sup_resume queues it again */
    bool adopted : 1;          /* pidfile= programs: p.pid came from the pidfile */
    bool removing : 1;         /* reload removed it: drop once it has no process */
    bool spawn_deferred : 1;   /* a start waits until the last instance's leftovers are gone */
    bool display_owned : 1;    /* display is malloc'd, not p.conf->name */
};

/* Called after every event that changed a service's state, ended a run or entered or left a
 * crash loop (for waiting clients, alerts). */
typedef void sup_listener_fn(struct service *svc, const struct proc_effects *fx, void *ctx);

struct supervisor {
    struct loop loop;
    char *config_path;
    struct config *config;     /* the [tend] settings in force */
    struct service **svcs;     /* sorted by priority, then name */
    size_t nsvcs;
    int sig_fd;
    struct watcher sig_w;
    bool shutting_down;
    long long shutdown_priority; /* the level (proc_conf_order) being stopped now */
    unsigned long orphans_reaped;
    unsigned long reloads;     /* reloads applied (for the info verb and /metrics) */
    struct {
        sup_listener_fn *fn;
        void *ctx;
    } listeners[8];
    size_t nlisteners;
    struct control *control;   /* the control socket server, NULL if none */
    struct handover *handover; /* the keeper's side of things, NULL without a keeper */
    pid_t keeper_pid;          /* the keeper (our parent) as we started, 0: none */
    bool restarted;            /* started by the keeper to take over from a previous one */
    bool upgrading;            /* leaving for `tend upgrade`: hand everything over */
    struct alerts *alerts;
    struct events *events;     /* [eventlistener:x] pools (events.c); NULL: none */
    uint64_t started_ns;
    int null_fd;               /* /dev/null, opened once for every child's unused stdio */
    rlim_t child_nofile;       /* children's RLIMIT_NOFILE soft limit (tend raises its own) */
    sigset_t child_reset;      /* signals not at their default in tend: reset in children */
    struct cgroup_tree *cgroups; /* where services' process trees live (cgroup.c) */
    struct launch_queue spawnq;  /* spawns waiting for their slice (launch.c) */
    struct loop_wake reap_wake;  /* set while exits wait for their slice; urgent */
};

/* Registers a state-change listener (control waits, alerts). 0, or -1 when full. */
int sup_listen(struct supervisor *sup, sup_listener_fn *fn, void *ctx);

/* Lookups and requests, for the control socket. */
struct service *sup_find(struct supervisor *sup, const char *name);
void sup_start(struct service *svc);
void sup_stop(struct service *svc);
void sup_restart(struct service *svc);
/* 0 or -1/errno; never signals a pid whose identity no longer matches. */
int sup_signal(struct service *svc, int sig);
void sup_shutdown(struct supervisor *sup);
/* Reopens tend's log and rotates (or reopens, after logrotate(8)) every program's logs.
 * 0, or -1/errno of the first failure (each keeps retrying on its own). */
int sup_logrotate(struct supervisor *sup);


/* ---- life cycle, for daemon.c ---- */

/* Blocks the signals tend reads, opens the signalfd and the loop, sets up alerts.
 * sup->config must be loaded. 0 or -1/errno. */
int sup_init(struct supervisor *sup);
/* Creates a service for every process of sup->config (which gives up its copies). 0 or
 * -1/ENOMEM. */
int sup_add_services(struct supervisor *sup);
/* Frees every service, the loop, the config; closes the descriptors (not the control
 * socket: its owner closes it first). */
void sup_destroy(struct supervisor *sup);

/* ---- between the supervisor's modules (launch, adopt, reload) ---- */

/* Feeds one event to the service's state machine and carries out its effects. */
void sup_apply(struct service *svc, const struct proc_event *ev);
/* A new service for conf (taken over). NULL when out of memory. */
struct service *svc_new(struct supervisor *sup, struct proc_conf *conf);
/* Stops every watcher and timer of the service and closes its descriptors. */
void svc_release(struct service *svc);
/* Frees a released service (a loop_defer_free callback). */
void svc_free(void *svc);
/* Recomputes the display name, the output capture and the health check after the config
 * changed. The display name may be the config's own: call svc_set_display whenever p.conf is
 * replaced. */
void svc_set_display(struct service *svc);
void svc_set_logcap(struct service *svc, const char *childlogdir);
void svc_set_health(struct service *svc);
/* A process exited with wait status `status`: reaped here (from_keeper false), or by the
 * keeper at when_ns (CLOCK_MONOTONIC), which only counts for a process it is the parent of
 * and that started before when_ns. */
void sup_exited(struct supervisor *sup, pid_t pid, int status, bool from_keeper,
                uint64_t when_ns);
/* A service restored from a previous supervisor: arm its deadline, resume its health check
 * and its pidfile wait. */
void sup_resume(struct service *svc);
/* Leaves for `tend upgrade`: the keeper re-executes both processes. 0 or -1/errno. */
int sup_upgrade(struct supervisor *sup);
/* Sorts the table by priority, then name. */
void sup_sort(struct supervisor *sup);
/* A stopped service that a reload removed or changed: drop it, or start its new version. */
void sup_after_stop(struct service *svc);

#endif
