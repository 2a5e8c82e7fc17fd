/* keeper: the supervisor's parent and safety net (see keeper.h).
 *
 * Everything here is sized at start-up: the argument vector for the supervisor is built
 * once, exits are kept in a fixed ring, and messages are fixed-size structs. The loop waits
 * in poll() on two descriptors (the signalfd and the supervisor's socket) and, while a
 * damped restart is pending, on a timeout: nothing wakes it otherwise.
 *
 * Its own descriptors: 3 is /dev/null (a placeholder), 4 the socket to the current
 * supervisor, 5 the signalfd, all close-on-exec; as tend-keeper, also tend's binary (exe_fd,
 * close-on-exec, at any free number from 6 on, moved away when a deposit wants its number).
 * Deposited descriptors are at 6 and above, without close-on-exec, so a supervisor (and the
 * keeper itself, re-executed for an upgrade) inherits them at the same numbers. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exitcode.h"
#include "keeper.h"

#define NULL_FD 3
#define SOCK_FD 4
#define SIG_FD 5
#define RING 4096              /* exits kept for the next supervisor */
#define QUICK_DEATH_MS 1000    /* a supervisor that dies sooner counts as a quick death */
#define QUICK_FREE 3           /* quick deaths in a row restarted at once; then damped */
#define DAMP_FIRST_MS 1000     /* 1 s, 2 s, 4 s ... */
#define DAMP_MAX_MS 30000
#define NUM_MAX 24             /* decimal digits of an int, with room */
#define NS_PER_MS 1000000ULL
#define BATCH 128              /* records per message, as the supervisor reads them */

extern char **environ;

struct keeper {
    char exe[PATH_MAX];        /* the installed binary, for an upgrade */
    int exe_fd;                /* tend's binary as it ran us (tend-keeper), or -1: ours */
    char **args;               /* handed to every supervisor */
    int nargs;
    char **av;                 /* the supervisor's argument vector, built per start */
    char num[6][NUM_MAX];      /* its numeric arguments */
    int notify_fd, pidfile_fd, state_fd;
    pid_t sup_pid;             /* 0: none running */
    bool sup_ready;            /* it sent READY */
    bool hello;                /* it asked for exits: send them as they happen */
    bool orderly;              /* it said STOPPING: its exit is ours */
    bool upgrade;              /* it said UPGRADE: re-execute once it is gone */
    bool stop_requested;       /* TERM/INT/QUIT while no supervisor ran: the next one stops all */
    unsigned generation;       /* supervisors started, across upgrades */
    unsigned quick_deaths;
    uint64_t sup_started_ns;
    uint64_t restart_at_ns;    /* 0: no restart pending */
    bool sock_hup;             /* the supervisor's end is closed: it is exiting */
    bool term_sent;            /* a TERM, INT or QUIT was forwarded to the current supervisor */
    uint64_t sent;             /* the next ring record the supervisor has not had */
    bool reap_held;            /* exits wait unreaped for room in the ring (ring_full) */
    bool end_pending;          /* the backlog's end is still to be sent */
    bool ack_pending;          /* the upgrade's acknowledgement is still to be sent */
    int last_status;           /* wait status of the last supervisor, -1: none */
    /* Deposits not held since the last report (KEEPER_NOT_HELD): how many, the last one's
     * number and errno. */
    unsigned unheld;
    int unheld_fd, unheld_err;
};

/* The exits the keeper reaped: record number n is ring[n % RING]; the last RING of them are
 * kept. Never cleared: a new
 * supervisor matches them against the pids it knows (by pid and time). */
static struct keeper_msg ring[RING];
static uint64_t ring_next;         /* records ever kept */
static unsigned long ring_lost;     /* overwritten before the supervisor got them */

static uint64_t now_ns(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail for this clock */
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* One line on stderr (the terminal with -n; /dev/null for a daemon, whose supervisor logs
 * what matters). Nothing else is possible here without parsing the config. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(buf) - 2)
        n = (int)sizeof(buf) - 2;
    buf[n++] = '\n';
    (void)!write(STDERR_FILENO, "tend keeper: ", 13); /* stderr may be gone: nothing to do */
    (void)!write(STDERR_FILENO, buf, (size_t)n);
}

static int parse_fd(const char *s)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0 || v > INT_MAX)
        return -1;
    return (int)v;
}

/* Moves fd to a number >= KEEPER_FIRST_FD (out of the keeper's own range), keeping its
 * close-on-exec flag off. -1 stays -1. */
static int move_up(int fd)
{
    int nfd;

    if (fd < 0 || fd >= KEEPER_FIRST_FD)
        return fd;
    nfd = fcntl(fd, F_DUPFD, KEEPER_FIRST_FD);
    (void)close(fd); /* the copy is what we keep */
    return nfd;
}

/* One message (an array of records) to the supervisor, never blocking. 0, or -1 when it
 * must wait for room (the caller asks poll for POLLOUT) or the supervisor is gone. */
static int send_records(const struct keeper *k, const struct keeper_msg *m, size_t n)
{
    ssize_t r;

    if (k->sup_pid == 0 || k->sock_hup)
        return -1;
    do
        r = send(SOCK_FD, m, n * sizeof(*m), MSG_DONTWAIT | MSG_NOSIGNAL);
    while (r == -1 && errno == EINTR);
    return r == (ssize_t)(n * sizeof(*m)) ? 0 : -1;
}

/* Delivers what the supervisor has not had yet, in batches, from k->sent on; then the
 * pending end of the backlog and the upgrade's acknowledgement, in that order. What does
 * not fit in the socket now waits for POLLOUT: a burst of exits (a thousand programs
 * stopped at once) is delivered whole, never dropped. */
static void flush(struct keeper *k)
{
    while (k->hello && k->sent < ring_next) {
        size_t at = (size_t)(k->sent % RING), n = (size_t)(ring_next - k->sent);
        if (n > BATCH)
            n = BATCH;
        if (n > RING - at)
            n = RING - at;
        if (send_records(k, &ring[at], n) == -1)
            return;
        k->sent += n;
    }
    if (k->hello && k->end_pending) {
        struct keeper_msg end = {.op = KEEPER_HELLO_END, .fd = -1,
                                 .status = (int32_t)(ring_lost > INT32_MAX ? INT32_MAX
                                                                            : ring_lost)};
        if (send_records(k, &end, 1) == -1)
            return;
        k->end_pending = false;
    }
    if (k->ack_pending) {
        struct keeper_msg ack = {.op = KEEPER_HELLO_END, .fd = -1};
        if (send_records(k, &ack, 1) == -1)
            return;
        k->ack_pending = false;
    }
    if (k->unheld > 0) { /* not waiting for HELLO: a first supervisor never says it */
        struct keeper_msg m = {.op = KEEPER_NOT_HELD, .fd = k->unheld_fd,
                               .pid = k->unheld_err, .status = (int32_t)k->unheld};
        if (send_records(k, &m, 1) == -1)
            return;
        k->unheld = 0;
    }
}

static bool want_out(const struct keeper *k)
{
    return (k->hello && (k->sent < ring_next || k->end_pending)) || k->ack_pending ||
           (k->unheld > 0 && k->sup_pid != 0);
}

/* A deposit we could not keep: the supervisor is told (it can name the program), as this
 * process has nowhere to log. */
static void not_held(struct keeper *k, int fd, int err)
{
    say("cannot hold descriptor %d: %s", fd, strerror(err));
    k->unheld++;
    k->unheld_fd = fd;
    k->unheld_err = err;
    flush(k);
}

static void keep_exit(struct keeper *k, pid_t pid, int status)
{
    struct keeper_msg m = {.op = KEEPER_EXITED, .fd = -1, .pid = pid, .status = status,
                           .when_ns = now_ns()};

    ring[ring_next % RING] = m;
    ring_next++;
    if (k->hello && ring_next - k->sent > RING) {
        ring_lost += ring_next - k->sent - RING; /* overwritten before it was delivered */
        k->sent = ring_next - RING;
    }
    flush(k);
}

/* A new supervisor asks for the exits: every one the ring still holds, then the end. */
static void send_ring(struct keeper *k)
{
    k->sent = ring_next > RING ? ring_next - RING : 0;
    k->end_pending = true;
    k->hello = true;
    flush(k);
}

/* Places a received descriptor at the number the supervisor has it at, inheritable. */
static void deposit(struct keeper *k, int got, int want)
{
    if (want < KEEPER_FIRST_FD) {
        say("refused to hold descriptor %d (reserved)", want);
        (void)close(got);
        return;
    }
    if (want == k->exe_fd) {
        /* Close-on-exec, so the supervisor never had it and may use its number: ours moves
         * out of the way (to the lowest free number, which `want` is not). */
        int nfd = fcntl(k->exe_fd, F_DUPFD_CLOEXEC, KEEPER_FIRST_FD);
        if (nfd == -1) {
            not_held(k, want, errno);
            (void)close(got);
            return;
        }
        (void)close(k->exe_fd);
        k->exe_fd = nfd;
    }
    if (got == want) {
        (void)fcntl(got, F_SETFD, 0); /* valid fd: cannot fail */
        return;
    }
    if (dup2(got, want) == -1)
        not_held(k, want, errno);
    (void)close(got); /* the copy at `want` (or nothing) is what we keep */
}

/* A descriptor that cannot be sent (an io_uring's: SCM_RIGHTS refuses them), taken from the
 * supervisor's table instead, while it lives. */
static void take(struct keeper *k, int want)
{
    int pfd, got = -1;

    if (k->sup_pid == 0 || want < KEEPER_FIRST_FD)
        return;
    pfd = (int)syscall(SYS_pidfd_open, k->sup_pid, 0);
    if (pfd != -1)
        got = (int)syscall(SYS_pidfd_getfd, pfd, want, 0);
    int err = errno;
    if (pfd != -1)
        (void)close(pfd); /* only a handle to the supervisor */
    if (got == -1) {
        not_held(k, want, err); /* it died first, or the number was already gone */
        return;
    }
    deposit(k, got, want);
}

/* Reads every message the supervisor sent (also after it died: they are still queued). */
static void read_messages(struct keeper *k)
{
    for (;;) {
        struct keeper_msg m;
        char cbuf[CMSG_SPACE(sizeof(int))];
        struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                            .msg_controllen = sizeof(cbuf)};
        int got = -1;
        ssize_t n = recvmsg(SOCK_FD, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* EAGAIN, or the peer is gone and everything was read */
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
                c->cmsg_len == CMSG_LEN(sizeof(int)))
                memcpy(&got, CMSG_DATA(c), sizeof(int));
        }
        if ((size_t)n == sizeof(m) && (mh.msg_flags & MSG_CTRUNC) && got == -1 &&
            (m.op == KEEPER_DEPOSIT || m.op == KEEPER_STATE)) {
            not_held(k, m.fd, EMFILE); /* the kernel had no number to give it */
            continue;
        }
        if ((size_t)n != sizeof(m) || (mh.msg_flags & MSG_CTRUNC)) {
            if (got != -1)
                (void)close(got); /* malformed: drop it */
            continue;
        }
        switch (m.op) {
        case KEEPER_DEPOSIT:
        case KEEPER_STATE:
            if (got == -1)
                break;
            deposit(k, got, m.fd);
            if (m.op == KEEPER_STATE && m.fd >= KEEPER_FIRST_FD)
                k->state_fd = m.fd;
            break;
        case KEEPER_TAKE:
            take(k, m.fd);
            break;
        case KEEPER_RELEASE:
            if (m.fd >= KEEPER_FIRST_FD && m.fd != k->state_fd && m.fd != k->exe_fd)
                (void)close(m.fd); /* EBADF: it was never held; nothing to undo */
            break;
        case KEEPER_READY:
            k->sup_ready = true;
            break;
        case KEEPER_STOPPING:
            k->orderly = true;
            break;
        case KEEPER_UPGRADE: {
            /* From now on only the supervisor is reaped: exits stay with the kernel until
             * the re-executed keeper reaps them for the next supervisor. */
            k->upgrade = true;
            k->ack_pending = true; /* after every exit not yet delivered */
            flush(k);
            break;
        }
        case KEEPER_HELLO:
            send_ring(k);
            break;
        default:
            break;
        }
        if (got != -1 && m.op != KEEPER_DEPOSIT && m.op != KEEPER_STATE)
            (void)close(got); /* a descriptor nobody asked for */
    }
}

static char *num(struct keeper *k, int slot, long v)
{
    snprintf(k->num[slot], sizeof(k->num[slot]), "%ld", v);
    return k->num[slot];
}

static int start_supervisor(struct keeper *k)
{
    int sv[2], n = 0;
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
        return -1;
    if (sv[0] != SOCK_FD && dup3(sv[0], SOCK_FD, O_CLOEXEC) == -1) {
        int err = errno;
        (void)close(sv[0]);
        (void)close(sv[1]);
        errno = err;
        return -1;
    }
    if (sv[0] != SOCK_FD)
        (void)close(sv[0]); /* the copy at SOCK_FD remains */
    k->generation++;
    k->av[n++] = "tend";
    k->av[n++] = "__supervise";
    k->av[n++] = "--generation";
    k->av[n++] = num(k, 0, (long)k->generation);
    if (k->state_fd != -1) {
        k->av[n++] = "--state-fd";
        k->av[n++] = num(k, 1, k->state_fd);
    }
    if (k->notify_fd != -1) {
        k->av[n++] = "--notify-fd";
        k->av[n++] = num(k, 2, k->notify_fd);
    }
    if (k->pidfile_fd != -1) {
        k->av[n++] = "--pidfile-fd";
        k->av[n++] = num(k, 3, k->pidfile_fd);
    }
    if (k->last_status != -1) {
        k->av[n++] = "--last-status";
        k->av[n++] = num(k, 4, k->last_status);
    }
    if (k->stop_requested)
        k->av[n++] = "--shutdown";
    k->av[n++] = "--";
    for (int i = 0; i < k->nargs; i++)
        k->av[n++] = k->args[i];
    k->av[n] = NULL;

    pid = fork();
    if (pid == -1) {
        int err = errno;
        (void)close(sv[1]);
        (void)close(SOCK_FD);
        errno = err;
        return -1;
    }
    if (pid == 0) {
        /* The child: only async-signal-safe calls. Its end of the socket goes to 3, and 4
         * and 5 are held open (on /dev/null) so the supervisor never gets those numbers. */
        sigset_t none;
        int tmp = fcntl(sv[1], F_DUPFD, KEEPER_FIRST_FD);
        if (tmp == -1 || dup2(NULL_FD, SOCK_FD) == -1 || dup2(NULL_FD, SIG_FD) == -1 ||
            dup2(tmp, KEEPER_SOCK_FD) == -1)
            _exit(EXIT_FAIL);
        (void)close(tmp);
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
        /* The binary we were started from, even if a new one is installed under its name
         * meanwhile (that one runs after an upgrade, not after a crash). */
        if (k->exe_fd != -1)
            (void)syscall(SYS_execveat, k->exe_fd, "", k->av, environ, AT_EMPTY_PATH);
        else
            execv("/proc/self/exe", k->av);
        _exit(EXIT_NOT_FOUND);
    }
    (void)close(sv[1]);
    k->sup_pid = pid;
    k->sup_ready = k->hello = k->orderly = k->sock_hup = k->term_sent = false;
    k->end_pending = k->ack_pending = false;
    k->sup_started_ns = now_ns();
    k->restart_at_ns = 0;
    /* The caller's notification and the pidfile belong to the first supervisor. */
    if (k->notify_fd != -1)
        (void)close(k->notify_fd);
    if (k->pidfile_fd != -1)
        (void)close(k->pidfile_fd);
    k->notify_fd = k->pidfile_fd = -1;
    return 0;
}

/* Re-executes the installed binary as keeper: the descriptors without close-on-exec (the
 * deposited ones and the state) carry over, as do our children. */
static void reexec(struct keeper *k)
{
    char **av = k->av; /* sized for the supervisor's vector, which is longer than this */
    int n = 0;

    av[n++] = "tend";
    av[n++] = "__keeper";
    av[n++] = "--generation";
    av[n++] = num(k, 0, (long)k->generation);
    if (k->state_fd != -1) {
        av[n++] = "--state-fd";
        av[n++] = num(k, 1, k->state_fd);
    }
    av[n++] = "--";
    for (int i = 0; i < k->nargs; i++)
        av[n++] = k->args[i];
    av[n] = NULL;
    execv(k->exe, av);
    say("cannot execute %s for the upgrade: %s; going on with this version", k->exe,
        strerror(errno));
}

static void schedule_restart(struct keeper *k)
{
    uint64_t ran = now_ns() - k->sup_started_ns;
    uint64_t delay_ms = 0;

    if (ran < (uint64_t)QUICK_DEATH_MS * NS_PER_MS) {
        k->quick_deaths++;
        if (k->quick_deaths > QUICK_FREE) {
            delay_ms = DAMP_FIRST_MS;
            for (unsigned i = QUICK_FREE + 1; i < k->quick_deaths && delay_ms < DAMP_MAX_MS; i++)
                delay_ms *= 2;
            if (delay_ms > DAMP_MAX_MS)
                delay_ms = DAMP_MAX_MS;
        }
    } else {
        k->quick_deaths = 0;
    }
    if (k->stop_requested)
        delay_ms = 0;
    k->restart_at_ns = now_ns() + delay_ms * NS_PER_MS;
    if (k->restart_at_ns == 0)
        k->restart_at_ns = 1;
    if (delay_ms > 0)
        say("supervisor died %u times in a row soon after starting; next start in %llu ms",
            k->quick_deaths, (unsigned long long)delay_ms);
}

static int exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

/* The supervisor is gone. Returns -1 to go on, or the keeper's exit code. */
static int supervisor_gone(struct keeper *k, int status)
{
    read_messages(k); /* what it sent before dying still counts (deposits, STOPPING) */
    (void)close(SOCK_FD);
    k->sup_pid = 0;
    k->hello = false;
    k->last_status = status;
    /* An orderly stop that ended normally is ours too; one cut short by a signal is
     * finished by the next supervisor, as is a stop it was asked for and never began. */
    if (k->orderly && WIFEXITED(status))
        return exit_code(status);
    if (k->orderly || k->term_sent)
        k->stop_requested = true;
    if (!k->sup_ready && k->generation == 1)
        return exit_code(status) ? exit_code(status) : EXIT_FAIL; /* start-up failed */
    if (k->upgrade) {
        k->upgrade = false;
        reexec(k);
    }
    if (WIFSIGNALED(status))
        say("supervisor pid died of signal %d; restarting it", WTERMSIG(status));
    else
        say("supervisor exited with status %d without an orderly stop; restarting it",
            WEXITSTATUS(status));
    schedule_restart(k);
    return -1;
}

/* Whether reaping one more exit would overwrite one the supervisor has not had, while a
 * supervisor takes them (it said HELLO), or none runs and the next one will. The exits wait
 * as zombies then, and are reaped as the ring is delivered: a burst larger than the ring
 * (10,000 programs taken back after a restart, then stopped at once) loses none. A first
 * supervisor that never asked (its programs are its own children, only orphans come here)
 * does not hold reaping up: its ring is overwritten as before, and counted as lost. */
static bool ring_full(const struct keeper *k)
{
    return (k->hello || k->sup_pid == 0) && ring_next - k->sent >= RING;
}

/* Reaps what has exited. Returns -1 to go on, or the keeper's exit code. */
static int reap(struct keeper *k)
{
    int status, rc = -1;
    pid_t pid, which;

    /* During an upgrade only the supervisor is reaped; the rest waits for the next keeper.
     * With the ring full of undelivered exits, the same until it drains (ring_full). */
    for (;;) {
        which = (k->upgrade && k->sup_pid) || ring_full(k) ? k->sup_pid : -1;
        k->reap_held = which != -1 && !k->upgrade;
        if (which == 0 || (pid = waitpid(which, &status, WNOHANG)) <= 0)
            break;
        if (pid == k->sup_pid) {
            rc = supervisor_gone(k, status);
            if (rc != -1)
                return rc;
        } else {
            keep_exit(k, pid, status);
        }
    }
    return rc;
}

static int on_signals(struct keeper *k)
{
    struct signalfd_siginfo si;
    bool child = false, pending[NSIG] = {false};
    int rc;

    /* Everything queued first, exits before the rest: a TERM that arrives with the
     * supervisor's death must not be forwarded to a supervisor that is already gone. */
    while (read(SIG_FD, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGCHLD)
            child = true;
        else if (si.ssi_signo < NSIG)
            pending[si.ssi_signo] = true;
    }
    if (child && (rc = reap(k)) != -1)
        return rc;
    for (int sig = 1; sig < NSIG; sig++) {
        if (!pending[sig])
            continue;
        bool stop = sig == SIGTERM || sig == SIGINT || sig == SIGQUIT;
        if (stop)
            k->term_sent = true; /* if it dies before it could act, the next one stops */
        if (k->sup_pid != 0) {
            /* Our unreaped child: its pid cannot have been reused. */
            (void)kill(k->sup_pid, sig);
        } else if (stop) {
            /* No supervisor to stop the programs: start one now, which stops them all. */
            k->stop_requested = true;
            k->restart_at_ns = 1;
        }
    }
    return -1;
}

/* Starts the supervisor and serves signals and its messages until the keeper's exit. */
static int keeper_loop(struct keeper *k)
{
    int rc;

    /* After an upgrade the old supervisor's exit was reaped by the old keeper; the exits
     * that waited meanwhile are reaped now, for the new supervisor. */
    if ((rc = reap(k)) != -1)
        return rc;
    if (start_supervisor(k) == -1) {
        say("cannot start the supervisor: %s", strerror(errno));
        return EXIT_FAIL;
    }
    for (;;) {
        struct pollfd pfd[2] = {{.fd = SIG_FD, .events = POLLIN},
                                {.fd = k->sup_pid && !k->sock_hup ? SOCK_FD : -1,
                                 .events = (short)(POLLIN | (want_out(k) ? POLLOUT : 0))}};
        int timeout = -1;
        if (k->sup_pid == 0 && k->restart_at_ns != 0) {
            uint64_t now = now_ns();
            timeout = k->restart_at_ns <= now ? 0
                      : (int)((k->restart_at_ns - now + NS_PER_MS - 1) / NS_PER_MS);
        }
        if (poll(pfd, 2, timeout) == -1 && errno != EINTR) {
            say("poll: %s", strerror(errno));
            continue; /* EINVAL/ENOMEM cannot persist with two fixed entries */
        }
        if (pfd[1].revents & POLLIN)
            read_messages(k);
        if (pfd[1].revents & POLLOUT)
            flush(k);
        /* Delivered: room in the ring for the exits that waited (ring_full). */
        if (k->reap_held && !ring_full(k) && (rc = reap(k)) != -1)
            return rc;
        /* Hung up: the supervisor is exiting; its SIGCHLD follows. Stop watching the
         * socket meanwhile, or poll would report it again and again. */
        if (pfd[1].revents & (POLLHUP | POLLERR))
            k->sock_hup = true;
        if ((rc = on_signals(k)) != -1)
            return rc;
        if (k->sup_pid == 0 && k->restart_at_ns != 0 && now_ns() >= k->restart_at_ns &&
            start_supervisor(k) == -1) {
            say("cannot start the supervisor: %s; retrying", strerror(errno));
            schedule_restart(k);
        }
    }
}

static int usage(bool standalone)
{
    fprintf(stderr, "%s: internal %s, started by tend daemon\n",
            standalone ? KEEPER_BIN : "tend __keeper", standalone ? "program" : "command");
    return EXIT_USAGE;
}

/* Hands the keeper over to tend-keeper when it is installed beside tend's binary (k->exe):
 * a small static program, resident in a fraction of tend's memory. OPTS are the options
 * we were given, passed on as they are. Returns only if that did not happen: this process
 * then keeps. */
static void to_standalone(const struct keeper *k, int nopts, char **opts)
{
    char path[PATH_MAX], fdnum[NUM_MAX], proto[NUM_MAX];
    const char *slash = strrchr(k->exe, '/');
    char **av;
    int fd, n = 0;

    if (slash == NULL || snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - k->exe),
                                  k->exe, KEEPER_BIN) >= (int)sizeof(path))
        return;
    /* The binary that is running now, not the file at its path: a supervisor restarted
     * after a crash must be this version (O_PATH: exec needs no read permission). */
    fd = open("/proc/self/exe", O_PATH);
    if (fd == -1)
        return; /* without /proc: the keeper stays in tend, which works the same */
    av = calloc((size_t)nopts + 8, sizeof(*av));
    if (av == NULL) {
        (void)close(fd);
        return;
    }
    snprintf(fdnum, sizeof(fdnum), "%d", fd);
    snprintf(proto, sizeof(proto), "%d", KEEPER_PROTO);
    av[n++] = KEEPER_BIN;
    av[n++] = "--tend";
    av[n++] = (char *)k->exe;
    av[n++] = "--tend-fd";
    av[n++] = fdnum;
    av[n++] = "--proto";
    av[n++] = proto;
    for (int i = 0; i < nopts; i++)
        av[n++] = opts[i];
    av[n] = NULL;
    execv(path, av);
    if (errno != ENOENT) /* none installed is normal (a static build, a copied binary) */
        say("cannot execute %s: %s; keeping in tend", path, strerror(errno));
    free(av);
    (void)close(fd);
}

/* tend-keeper, started by another version of tend whose keeper speaks another protocol:
 * that tend keeps, in its own process. Returns only on failure. */
static int back_to_tend(const char *tend, int tend_fd, int nopts, char **opts)
{
    char **av = calloc((size_t)nopts + 4, sizeof(*av));
    int n = 0;

    if (av == NULL)
        return EXIT_FAIL;
    av[n++] = "tend";
    av[n++] = "__keeper";
    av[n++] = "--here";
    for (int i = 0; i < nopts; i++)
        av[n++] = opts[i];
    av[n] = NULL;
    (void)fcntl(tend_fd, F_SETFD, FD_CLOEXEC); /* a valid descriptor: cannot fail */
    (void)syscall(SYS_execveat, tend_fd, "", av, environ, AT_EMPTY_PATH);
    say("cannot execute %s: %s", tend, strerror(errno));
    free(av);
    return EXIT_FAIL;
}

int keeper_main(int argc, char **argv, bool standalone)
{
    struct keeper k = {.notify_fd = -1, .pidfile_fd = -1, .state_fd = -1, .last_status = -1,
                       .exe_fd = -1};
    const char *tend = NULL;
    int tend_fd = -1, proto = -1, first;
    bool here = false;
    sigset_t mask;
    ssize_t len;
    int i, rc;

    /* tend-keeper's own options come first: tend's binary, by name and as it ran. */
    for (i = 1; standalone && i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--tend") == 0)
            tend = argv[i + 1];
        else if (strcmp(argv[i], "--tend-fd") == 0)
            tend_fd = parse_fd(argv[i + 1]);
        else if (strcmp(argv[i], "--proto") == 0)
            proto = parse_fd(argv[i + 1]);
        else
            break;
    }
    if (standalone && (tend == NULL || tend_fd == -1 || strlen(tend) >= sizeof(k.exe)))
        return usage(true);
    if (standalone && proto != KEEPER_PROTO)
        return back_to_tend(tend, tend_fd, argc - i, argv + i);
    first = i;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--here") == 0) {
            here = true;
            continue;
        }
        if (i + 1 >= argc)
            return usage(standalone);
        if (strcmp(argv[i], "--notify-fd") == 0)
            k.notify_fd = parse_fd(argv[++i]);
        else if (strcmp(argv[i], "--pidfile-fd") == 0)
            k.pidfile_fd = parse_fd(argv[++i]);
        else if (strcmp(argv[i], "--state-fd") == 0)
            k.state_fd = parse_fd(argv[++i]);
        else if (strcmp(argv[i], "--generation") == 0)
            k.generation = (unsigned)parse_fd(argv[++i]);
        else
            return usage(standalone);
    }
    if (i == argc)
        return usage(standalone);
    k.args = argv + i + 1;
    k.nargs = argc - i - 1;
    if (standalone) {
        snprintf(k.exe, sizeof(k.exe), "%s", tend);
        /* Out of the keeper's own range, and not passed on to the supervisor. */
        k.exe_fd = fcntl(tend_fd, F_DUPFD_CLOEXEC, KEEPER_FIRST_FD);
        (void)close(tend_fd);
        if (k.exe_fd == -1) {
            say("cannot hold %s: %s", tend, strerror(errno));
            return EXIT_FAIL;
        }
    } else {
        len = readlink("/proc/self/exe", k.exe, sizeof(k.exe) - 1);
        if (len <= 0)
            return EXIT_FAIL;
        k.exe[len] = '\0';
        /* After `make install` replaced the binary, the link reads "PATH (deleted)": the
         * file now at PATH is the new version, which is what an upgrade wants. */
        if (len > 10 && strcmp(k.exe + len - 10, " (deleted)") == 0)
            k.exe[len - 10] = '\0';
        if (!here)
            to_standalone(&k, argc - first, argv + first);
    }

    /* Our own descriptors go to 3, 4, 5: first move anything inherited out of the way. */
    k.notify_fd = move_up(k.notify_fd);
    k.pidfile_fd = move_up(k.pidfile_fd);
    k.state_fd = move_up(k.state_fd);
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd == -1 || (null_fd != NULL_FD && dup3(null_fd, NULL_FD, O_CLOEXEC) == -1))
        return EXIT_FAIL;
    if (null_fd != NULL_FD)
        (void)close(null_fd);

    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGQUIT); /* supervisord's users stop it so: the supervisor stops all */
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGUSR2);
    /* Blocked signals are queued even for PID 1, whose default dispositions would
     * otherwise discard them. SIGPIPE: a dead supervisor's socket is an EPIPE. */
    (void)signal(SIGPIPE, SIG_IGN);
    int sfd = -1;
    if (sigprocmask(SIG_BLOCK, &mask, NULL) == -1 ||
        (sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1 ||
        (sfd != SIG_FD && dup3(sfd, SIG_FD, O_CLOEXEC) == -1)) {
        say("cannot set up signals: %s", strerror(errno));
        return EXIT_FAIL;
    }
    if (sfd != SIG_FD)
        (void)close(sfd);
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
        say("cannot become a child subreaper: %s", strerror(errno));

    /* The supervisor's vector: fixed words, six options with values, then the arguments. */
    k.av = calloc((size_t)k.nargs + 24, sizeof(*k.av));
    if (k.av == NULL)
        return EXIT_FAIL;
    rc = keeper_loop(&k);
    free(k.av);
    return rc;
}
