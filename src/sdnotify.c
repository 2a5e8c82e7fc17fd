/* sdnotify: READY=1, RELOADING=1, STOPPING=1, STATUS= and WATCHDOG=1 to $NOTIFY_SOCKET.
 *
 * One datagram per notification on one non-blocking, close-on-exec datagram socket. The
 * manager's socket is a path, or an abstract name written with a leading '@'. A send that
 * fails (the manager's queue is full, it went away) is dropped: the protocol has no replies,
 * the next state or ping says everything again, and the supervisor must not wait for anyone.
 * Timers: the watchdog ping (only when the manager asked for one) and the coalescing of
 * STATUS= updates (only after a state change); with neither, nothing here ever wakes tend. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "deps.h"
#include "log.h"
#include "sdnotify.h"
#include "supervisor.h"
#include "util/fd.h"

static struct {
    int fd;                        /* -1: no manager to tell */
    struct sockaddr_un addr;
    socklen_t addr_len;
    struct supervisor *sup;
    uint64_t watchdog_ns;          /* ping interval (half of WATCHDOG_USEC), 0 = none */
    struct timer watchdog;
    struct timer status;           /* a STATUS= update is due */
    bool ready_sent;               /* READY=1 went out (start-up is over) */
    struct timer ready_cap;        /* READY=1 at the latest then (SDNOTIFY_READY_MAX_S) */
} sdn = {.fd = -1};

static void send_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void send_msg(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    int n;

    if (sdn.fd == -1)
        return;
    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(buf))
        n = (int)sizeof(buf) - 1; /* only STATUS= can be long; a cut status is still a status */
    /* MSG_DONTWAIT on top of the non-blocking socket; MSG_NOSIGNAL for form (datagrams do not
     * raise SIGPIPE). Failure ignored: see the top of the file. EAGAIN means the manager is
     * behind; ECONNREFUSED/ENOENT that it is gone. */
    (void)sendto(sdn.fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL,
                 (const struct sockaddr *)&sdn.addr, sdn.addr_len);
}

/* "12 processes: 10 running, 1 starting, 1 fatal": counts by state, in state order. */
static void format_status(char *buf, size_t len)
{
    size_t count[PROC_UNKNOWN + 1] = {0}, total = 0;
    const char *sep = ": ";

    for (size_t i = 0; i < sdn.sup->nsvcs; i++) {
        const struct service *svc = sdn.sup->svcs[i];
        if (!svc->removing) {
            count[svc->p.state]++;
            total++;
        }
    }
    (void)snprintf(buf, len, "%zu process%s", total, total == 1 ? "" : "es"); /* fits */
    for (int s = 0; s <= PROC_UNKNOWN; s++) {
        char part[48];
        size_t n = 0;
        if (count[s] == 0)
            continue;
        n = (size_t)snprintf(part, sizeof(part), "%s%zu ", sep, count[s]);
        for (const char *c = proc_state_name((enum proc_state)s); *c && n + 1 < sizeof(part);)
            part[n++] = (char)(*c >= 'A' && *c <= 'Z' ? *c++ - 'A' + 'a' : *c++);
        part[n] = '\0';
        if (strlen(buf) + n < len)
            strcat(buf, part);
        sep = ", ";
    }
    if (sdn.sup->shutting_down && strlen(buf) + sizeof(" (shutting down)") <= len)
        strcat(buf, " (shutting down)");
}

static void send_status(const char *prefix)
{
    char status[400];

    format_status(status, sizeof(status));
    send_msg("%sSTATUS=%s", prefix, status);
}

/* Every autostart program reached its first steady state: RUNNING (which, with readiness=,
 * means ready), EXITED or FATAL, or waiting for a dependency that cannot come. */
static bool all_steady(void)
{
    for (size_t i = 0; i < sdn.sup->nsvcs; i++) {
        const struct service *svc = sdn.sup->svcs[i];
        if (svc->removing || !svc->p.conf->autostart)
            continue;
        switch (svc->p.state) {
        case PROC_RUNNING:
        case PROC_EXITED:
        case PROC_FATAL:
            break;
        case PROC_STOPPED:
            if (deps_start_waits(svc) && !deps_blocked(svc))
                return false;
            break;
        case PROC_STARTING:
        case PROC_BACKOFF:
        case PROC_STOPPING:
        case PROC_UNKNOWN:
            return false;
        }
    }
    return true;
}

static void maybe_ready(void)
{
    if (sdn.ready_sent || !all_steady())
        return;
    sdn.ready_sent = true;
    loop_timer_cancel(&sdn.sup->loop, &sdn.ready_cap); /* no wake-up for nothing */
    send_status("READY=1\n");
}

/* Start-up is taking long (a program slow to become ready): READY=1 all the same, before
 * the manager's start timeout (systemd's default is 90 s) gives up on tend itself. */
static void on_ready_cap(struct timer *t, void *ctx)
{
    (void)t;
    (void)ctx;
    if (sdn.ready_sent)
        return;
    log_msg(LOG_LVL_WARN, "sd_notify: start-up still not over after %ds: READY=1 now",
            SDNOTIFY_READY_MAX_S);
    sdn.ready_sent = true;
    send_status("READY=1\n");
}

static void on_status_timer(struct timer *t, void *ctx)
{
    bool was_ready = sdn.ready_sent;

    (void)t;
    (void)ctx;
    if (was_ready) {
        send_status("");
        return;
    }
    maybe_ready(); /* READY=1 carries the status */
    if (!sdn.ready_sent)
        send_status(""); /* "1 stopped, 1 starting": where start-up is */
}

/* Every state change: a STATUS= update soon, one for any number of changes in between. */
static void on_state_change(struct service *svc, const struct proc_effects *fx, void *ctx)
{
    (void)svc;
    (void)ctx;
    if (fx->from == fx->to || timer_armed(&sdn.status))
        return;
    /* Before READY=1, the timer decides when start-up is over (at most every
     * SDNOTIFY_STATUS_MS, after the states of a batch of events are all applied). */
    if (loop_timer_arm(&sdn.sup->loop, &sdn.status,
                       timer_now_ns() + (uint64_t)SDNOTIFY_STATUS_MS * 1000000u) == -1)
        log_msg(LOG_LVL_WARN, "sd_notify: status update skipped: %s", strerror(errno));
}

static void arm_watchdog(void)
{
    if (loop_timer_arm(&sdn.sup->loop, &sdn.watchdog, timer_now_ns() + sdn.watchdog_ns) == -1)
        /* Out of memory for the heap: the manager will see missed pings and act. */
        log_msg(LOG_LVL_ERROR, "sd_notify: cannot arm the watchdog: %s", strerror(errno));
}

static void on_watchdog(struct timer *t, void *ctx)
{
    (void)t;
    (void)ctx;
    send_msg("WATCHDOG=1");
    arm_watchdog();
}

/* NOTIFY_SOCKET into sdn.addr. 0, or -1 with a reason for the log. */
static int parse_socket(const char *path, const char **why)
{
    size_t len = strlen(path);

    memset(&sdn.addr, 0, sizeof(sdn.addr));
    sdn.addr.sun_family = AF_UNIX;
    if ((path[0] != '/' && path[0] != '@') || len < 2) {
        *why = "not an absolute path nor an abstract '@' name";
        return -1;
    }
    if (len > sizeof(sdn.addr.sun_path) - (path[0] == '/')) {
        *why = "too long for a unix socket address";
        return -1;
    }
    memcpy(sdn.addr.sun_path, path, len);
    if (path[0] == '@')
        sdn.addr.sun_path[0] = '\0'; /* abstract: the name is the len bytes, NUL first */
    sdn.addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
                               (path[0] == '/'));
    return 0;
}

/* WATCHDOG_USEC (and WATCHDOG_PID, which must be ours if set): the ping interval, or 0. */
static uint64_t parse_watchdog(const char *usec, const char *pid)
{
    char *end;
    unsigned long long us, owner;

    if (usec == NULL)
        return 0;
    errno = 0;
    us = strtoull(usec, &end, 10);
    if (errno != 0 || end == usec || *end != '\0' || us == 0 || us > UINT64_MAX / 1000) {
        log_msg(LOG_LVL_WARN, "sd_notify: WATCHDOG_USEC='%s' is not a positive number of "
                "microseconds; no watchdog pings", usec);
        return 0;
    }
    if (pid != NULL) {
        errno = 0;
        owner = strtoull(pid, &end, 10);
        /* The service manager's main process is the keeper (our parent): its watchdog is
         * ours to feed, since a stuck supervisor is what it must catch. */
        if (errno != 0 || end == pid || *end != '\0' ||
            (owner != (unsigned long long)getpid() && owner != (unsigned long long)getppid()))
            return 0; /* the watchdog is someone else's */
    }
    /* Half the interval, as the protocol advises: one late ping is not yet a miss. */
    return us * 1000 / 2;
}

void sdnotify_ready(struct supervisor *sup)
{
    const char *path = getenv("NOTIFY_SOCKET");
    const char *why = NULL;

    sdn.sup = sup;
    timer_init(&sdn.watchdog, on_watchdog, NULL);
    timer_init(&sdn.status, on_status_timer, NULL);
    timer_init(&sdn.ready_cap, on_ready_cap, NULL);
    if (path == NULL)
        return;
    if (parse_socket(path, &why) == -1) {
        log_msg(LOG_LVL_WARN, "sd_notify: NOTIFY_SOCKET='%s' ignored: %s", path, why);
    } else {
        sdn.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (sdn.fd == -1)
            log_msg(LOG_LVL_WARN, "sd_notify: cannot create a socket: %s; the service "
                    "manager will not hear from tend", strerror(errno));
    }
    if (sdn.fd != -1)
        sdn.watchdog_ns = parse_watchdog(getenv("WATCHDOG_USEC"), getenv("WATCHDOG_PID"));
    /* Ours alone: a program that inherited them would speak in tend's name (and the manager,
     * with NotifyAccess=main, would only log that it refuses). unsetenv fails only for an
     * invalid name; these are valid. */
    (void)unsetenv("NOTIFY_SOCKET");
    (void)unsetenv("WATCHDOG_USEC");
    (void)unsetenv("WATCHDOG_PID");
    if (sdn.fd == -1)
        return;
    /* READY=1 once start-up is over: checked from the loop, after the autostart programs
     * were asked to start, and again after state changes. */
    if (loop_timer_arm(&sup->loop, &sdn.status, timer_now_ns()) == -1 ||
        loop_timer_arm(&sup->loop, &sdn.ready_cap,
                       timer_now_ns() + (uint64_t)SDNOTIFY_READY_MAX_S * 1000000000u) == -1) {
        /* No timer (out of memory): say it now rather than perhaps never. */
        sdn.ready_sent = true;
        send_status("READY=1\n");
    }
    if (sup_listen(sup, on_state_change, NULL) == -1) {
        log_msg(LOG_LVL_WARN, "sd_notify: no room for a state listener; STATUS= will not "
                "follow state changes");
        sdn.ready_sent = true; /* nothing would tell us when start-up is over */
        send_status("READY=1\n");
    }
    if (sdn.watchdog_ns != 0) {
        send_msg("WATCHDOG=1");
        arm_watchdog();
    }
}

void sdnotify_reloading(void)
{
    struct timespec ts;

    if (sdn.fd == -1)
        return;
    /* systemd matches MONOTONIC_USEC against its own clock to tell this reload from an
     * older one. CLOCK_MONOTONIC cannot fail with a valid clock id. */
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    send_msg("RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "\nSTATUS=reloading the configuration",
             (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u);
}

void sdnotify_reloaded(void)
{
    if (sdn.fd == -1)
        return;
    sdn.ready_sent = true;
    send_status("READY=1\n");
}

/* The socket stays open until tend exits (the kernel closes it then); it is close-on-exec,
 * and children close every descriptor above 2 anyway. */
void sdnotify_stopping(void)
{
    if (sdn.fd == -1)
        return;
    send_msg("STOPPING=1\nSTATUS=stopping every program");
}
