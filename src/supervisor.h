/* supervisor: `tend daemon`. Owns the event loop, the service table and every descriptor
 * that must outlive a child (report pipes now; log pipes and pidfds later). Drives each
 * service's state machine (proc.c) from kernel events: SIGCHLD through a signalfd, report
 * pipes, the deadline timer, and requests from the control socket. */
#ifndef TEND_SUPERVISOR_H
#define TEND_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "config.h"
#include "loop.h"
#include "proc.h"
#include "timer.h"

struct supervisor;

/* One supervised process instance. */
struct service {
    struct proc p;             /* policy state; p.conf is owned */
    struct supervisor *sup;
    struct timer timer;        /* mirrors p.deadline_ns */
    struct watcher report_w;   /* the spawn report pipe while the exec is unconfirmed */
    int report_fd;
    /* pidfile= programs: the command (the launcher) daemonizes and writes a pidfile. */
    pid_t launcher_pid;        /* the command we spawned, until it exits */
    unsigned long long launcher_ticks; /* its start time: the daemon cannot be older */
    bool adopted;              /* p.pid came from the pidfile */
    uid_t run_uid;             /* the user it runs as (a pidfile may belong to it) */
    int ino_fd;                /* inotify on the pidfile's directory while waiting */
    struct watcher ino_w;
    struct timer pidfile_timer; /* how long we wait for a valid pidfile */
    char pidfile_problem[200]; /* why the pidfile was not adopted yet */
    int pidfd;                 /* adopted process that is not our descendant */
    struct watcher pidfd_w;
    struct proc_conf *next_conf;    /* reload: apply once the old instance has stopped */
    struct health *health;     /* NULL without healthcheck= */
    struct logcap *logcap;     /* stdout/stderr capture; its pipes outlive each instance */
    bool removing;             /* reload removed it: drop once it has no process */
    char *display;             /* "group:name", or "name" when the group has its name */
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
    int shutdown_priority;     /* the priority level being stopped now */
    unsigned long orphans_reaped;
    struct {
        sup_listener_fn *fn;
        void *ctx;
    } listeners[4];
    size_t nlisteners;
    struct control *control;   /* the control socket server, NULL if none */
    struct alerts *alerts;
    uint64_t started_ns;
    int null_fd;               /* /dev/null, opened once for every child's unused stdio */
    rlim_t child_nofile;       /* children's RLIMIT_NOFILE soft limit (tend raises its own) */
    sigset_t child_reset;      /* signals not at their default in tend: reset in children */
};

/* Registers a state-change listener (control waits, alerts). 0, or -1 when full. */
int sup_listen(struct supervisor *sup, sup_listener_fn *fn, void *ctx);

/* Entry point of `tend daemon`. */
int supervisor_main(int argc, char **argv);
/* Entry point of `tend check`. */
/* The options of `tend daemon` and `tend check` (cmd), from their parser's tables: fn gets
 * each one's short letter (0 when it has none) and long name. */
void supervisor_each_option(const char *cmd, void (*fn)(const char *cmd, int short_name,
                                                        const char *long_name, void *ctx),
                            void *ctx);
int check_main(int argc, char **argv);

/* Lookups and requests, for the control socket. */
struct service *sup_find(struct supervisor *sup, const char *name);
void sup_start(struct service *svc);
void sup_stop(struct service *svc);
void sup_restart(struct service *svc);
/* 0 or -1/errno; never signals a pid whose identity no longer matches. */
int sup_signal(struct service *svc, int sig);
/* Rereads the config and applies the difference. 0, or -1 with the config's diagnostics
 * in diags (nothing changed). `report` receives one line per change, e.g. "added web". */
int sup_reload(struct supervisor *sup, struct config_diags *diags,
               void (*report)(const char *line, void *ctx), void *ctx);
void sup_shutdown(struct supervisor *sup);
/* Reopens tend's log and rotates (or reopens, after logrotate(8)) every program's logs.
 * 0, or -1/errno of the first failure (each keeps retrying on its own). */
int sup_logrotate(struct supervisor *sup);

#endif
