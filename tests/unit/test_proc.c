/* Unit tests for the process state machine. proc_handle() is pure, so every test drives it
 * with synthetic events and a fake monotonic clock (T0 plus whole or fractional seconds) and
 * checks the resulting state and effects against supervisord's documented semantics. The
 * supervisor's part (storing the pid after a spawn) is played by hand where it matters. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>

#include "../harness.h"
#include "proc.h"

#define NS 1000000000ULL
#define SEC(x) ((uint64_t)(x) * NS)
#define MSEC(x) ((uint64_t)(x) * 1000000ULL)
#define T0 SEC(1000) /* an arbitrary monotonic "boot + 1000 s" */
#define FAKE_PID 4242

/* Wait statuses built the way the kernel encodes them, without relying on W* constructors. */
#define ST_EXIT(code) ((code) << 8)
#define ST_SIG(sig) (sig)
#define ST_CORE(sig) ((sig) | 0x80)

/* A conf with supervisord's defaults: startsecs=1, startretries=3, autorestart=unexpected,
 * exitcodes=0, stopsignal=TERM, stopwaitsecs=10, no group signalling. */
static void conf_defaults(struct proc_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->name = "web";
    c->program = "web";
    c->group = "web";
    c->startsecs = 1;
    c->startretries = 3;
    c->autorestart = AUTORESTART_UNEXPECTED;
    c->exitcodes = NULL; /* the default: exit status 0 */
    c->stopsignal = SIGTERM;
    c->stopwaitsecs = 10;
    c->stopasgroup = false;
    c->killasgroup = false;
}

static struct proc_effects deliver(struct proc *p, enum proc_event_kind kind, uint64_t now)
{
    struct proc_event ev = {.kind = kind};
    struct proc_effects fx;

    proc_handle(p, &ev, now, &fx);
    /* The supervisor's side: a spawn yields a live child. */
    if (fx.spawn)
        p->pid = FAKE_PID;
    return fx;
}

static struct proc_effects send_exit(struct proc *p, int status, uint64_t now)
{
    struct proc_event ev = {.kind = EV_EXITED, .status = status};
    struct proc_effects fx;

    proc_handle(p, &ev, now, &fx);
    if (fx.spawn)
        p->pid = FAKE_PID;
    return fx;
}

static struct proc_effects send_exec_failed(struct proc *p, int stage, const char *what, int err,
                                            uint64_t now)
{
    struct proc_event ev = {.kind = EV_EXEC_FAILED, .stage = stage, .what = what, .err = err};
    struct proc_effects fx;

    proc_handle(p, &ev, now, &fx);
    return fx;
}

static struct proc_effects send_fork_failed(struct proc *p, int err, uint64_t now)
{
    struct proc_event ev = {.kind = EV_FORK_FAILED, .err = err};
    struct proc_effects fx;

    proc_handle(p, &ev, now, &fx);
    return fx;
}

/* From STOPPED to RUNNING the ordinary way; returns the time it became RUNNING. */
static uint64_t make_running(struct proc *p, uint64_t t)
{
    struct proc_effects fx = deliver(p, EV_START, t);

    CHECK(fx.spawn);
    (void)deliver(p, EV_EXEC_OK, t + MSEC(1));
    t += SEC(p->conf->startsecs);
    fx = deliver(p, EV_TIMER, t);
    CHECK_INT(fx.to, PROC_RUNNING);
    CHECK_INT(p->state, PROC_RUNNING);
    return t;
}

/* Puts p (fresh from proc_init) into state s by events alone. */
static uint64_t drive_to(struct proc *p, enum proc_state s)
{
    uint64_t t = T0;

    switch (s) {
    case PROC_STOPPED: break;
    case PROC_STARTING: (void)deliver(p, EV_START, t); break;
    case PROC_RUNNING: t = make_running(p, t); break;
    case PROC_BACKOFF:
        (void)deliver(p, EV_START, t);
        t += MSEC(100);
        (void)send_exit(p, ST_EXIT(1), t);
        break;
    case PROC_STOPPING:
        t = make_running(p, t) + SEC(5);
        (void)deliver(p, EV_STOP, t);
        break;
    case PROC_EXITED: {
        enum autorestart saved = p->conf->autorestart;
        p->conf->autorestart = AUTORESTART_FALSE; /* so that the exit is not followed up */
        t = make_running(p, t) + SEC(5);
        (void)send_exit(p, ST_EXIT(0), t);
        p->conf->autorestart = saved;
        break;
    }
    case PROC_FATAL:
        (void)deliver(p, EV_START, t);
        (void)send_exec_failed(p, 3, "change directory to /nonexistent", ENOENT, t);
        break;
    case PROC_UNKNOWN:
        p->state = PROC_UNKNOWN; /* only the supervisor sets it (adoption after re-exec) */
        p->pid = FAKE_PID;
        break;
    }
    CHECK_INT(p->state, s);
    return t;
}

static void check_no_action(const struct proc_effects *fx, enum proc_state s)
{
    CHECK(!fx->spawn);
    CHECK_INT(fx->signal, 0);
    CHECK_INT(fx->from, s);
    CHECK_INT(fx->to, s);
}

/* ---- proc_init, names, status descriptions ------------------------------------------ */

TEST(init)
{
    struct proc_conf c;
    struct proc p;

    conf_defaults(&c);
    memset(&p, 0xa5, sizeof(p));
    proc_init(&p, &c);
    CHECK(p.conf == &c);
    CHECK_INT(p.state, PROC_STOPPED);
    CHECK_INT(p.pid, 0);
    CHECK_INT(p.deadline_ns, 0);
    CHECK_INT(p.backoff, 0);
    CHECK_INT(p.restarts, 0);
    CHECK(!p.pending_start);
    CHECK_INT(p.last_status, -1);
    CHECK_STR(proc_reason(&p), "");
    CHECK(!proc_has_process(&p));
}

TEST(state_names)
{
    CHECK_STR(proc_state_name(PROC_STOPPED), "STOPPED");
    CHECK_STR(proc_state_name(PROC_STARTING), "STARTING");
    CHECK_STR(proc_state_name(PROC_RUNNING), "RUNNING");
    CHECK_STR(proc_state_name(PROC_BACKOFF), "BACKOFF");
    CHECK_STR(proc_state_name(PROC_STOPPING), "STOPPING");
    CHECK_STR(proc_state_name(PROC_EXITED), "EXITED");
    CHECK_STR(proc_state_name(PROC_FATAL), "FATAL");
    CHECK_STR(proc_state_name(PROC_UNKNOWN), "UNKNOWN");
    CHECK_STR(proc_state_name((enum proc_state)(PROC_UNKNOWN + 1)), "?");
    CHECK_STR(proc_state_name((enum proc_state)-1), "?");
}

TEST(describe_status_every_exit_code)
{
    char buf[64], want[64];
    bool ok = true;

    for (int code = 0; code < 256; code++) {
        int st = ST_EXIT(code);
        snprintf(want, sizeof(want), "exit %d", code);
        ok &= WIFEXITED(st) && WEXITSTATUS(st) == code; /* the encoding is right */
        ok &= proc_describe_status(st, buf, sizeof(buf)) == buf;
        if (strcmp(buf, want) != 0) {
            fprintf(stderr, "  status %#x: \"%s\", expected \"%s\"\n", st, buf, want);
            ok = false;
        }
    }
    CHECK(ok);
}

TEST(describe_status_every_signal)
{
    char buf[64], want[64];
    bool ok = true;

    for (int sig = 1; sig <= 31; sig++) {
        ok &= WIFSIGNALED(ST_SIG(sig)) && WTERMSIG(ST_SIG(sig)) == sig;
        ok &= WIFSIGNALED(ST_CORE(sig)) && WCOREDUMP(ST_CORE(sig));
        snprintf(want, sizeof(want), "signal %d (SIG%s)", sig, sigabbrev_np(sig));
        proc_describe_status(ST_SIG(sig), buf, sizeof(buf));
        if (strcmp(buf, want) != 0 || strchr(buf, '?') != NULL) {
            fprintf(stderr, "  signal %d: \"%s\"\n", sig, buf);
            ok = false;
        }
        strcat(want, ", core dumped");
        proc_describe_status(ST_CORE(sig), buf, sizeof(buf));
        if (strcmp(buf, want) != 0) {
            fprintf(stderr, "  signal %d + core: \"%s\"\n", sig, buf);
            ok = false;
        }
    }
    CHECK(ok);
    /* A few literally, so the test does not only agree with itself. */
    CHECK_STR(proc_describe_status(ST_SIG(SIGKILL), buf, sizeof(buf)), "signal 9 (SIGKILL)");
    CHECK_STR(proc_describe_status(ST_SIG(SIGTERM), buf, sizeof(buf)), "signal 15 (SIGTERM)");
    CHECK_STR(proc_describe_status(ST_CORE(SIGSEGV), buf, sizeof(buf)),
              "signal 11 (SIGSEGV), core dumped");
    CHECK_STR(proc_describe_status(ST_EXIT(0), buf, sizeof(buf)), "exit 0");
    CHECK_STR(proc_describe_status(ST_EXIT(127), buf, sizeof(buf)), "exit 127");
}

TEST(describe_status_other_and_truncation)
{
    char buf[64], tiny[6];
    int stopped = (SIGSTOP << 8) | 0x7f; /* what WUNTRACED would report */

    CHECK(WIFSTOPPED(stopped));
    CHECK_STR(proc_describe_status(stopped, buf, sizeof(buf)), "status 0x137f");
    CHECK_STR(proc_describe_status(ST_SIG(SIGKILL), tiny, sizeof(tiny)), "signa");
    CHECK_STR(proc_describe_status(ST_EXIT(200), tiny, sizeof(tiny)), "exit ");
}

/* ---- starting -------------------------------------------------------------------------- */

TEST(start_from_stopped_spawns_with_startsecs_deadline)
{
    struct proc_conf c;
    struct proc p;
    struct proc_effects fx;

    conf_defaults(&c);
    c.startsecs = 7;
    proc_init(&p, &c);
    fx = deliver(&p, EV_START, T0);
    CHECK(fx.spawn);
    CHECK_INT(fx.signal, 0);
    CHECK_INT(fx.from, PROC_STOPPED);
    CHECK_INT(fx.to, PROC_STARTING);
    CHECK(!fx.unexpected_exit);
    CHECK_INT(p.state, PROC_STARTING);
    CHECK_INT(p.start_ns, T0);
    CHECK_INT(p.deadline_ns, T0 + SEC(7));
    CHECK(!p.exec_ok);
    CHECK(proc_has_process(&p)); /* the supervisor stored the pid */
}

TEST(starting_exec_ok_then_timer_is_running)
{
    struct proc_conf c;
    struct proc p;
    struct proc_effects fx;

    conf_defaults(&c);
    c.startsecs = 2;
    proc_init(&p, &c);
    (void)deliver(&p, EV_START, T0);
    fx = deliver(&p, EV_EXEC_OK, T0 + MSEC(3));
    check_no_action(&fx, PROC_STARTING);
    CHECK(p.exec_ok);
    CHECK_INT(p.deadline_ns, T0 + SEC(2)); /* still waiting for startsecs */
    fx = deliver(&p, EV_TIMER, T0 + SEC(2));
    CHECK(!fx.spawn);
    CHECK_INT(fx.signal, 0);
    CHECK_INT(fx.from, PROC_STARTING);
    CHECK_INT(fx.to, PROC_RUNNING);
    CHECK_INT(p.deadline_ns, 0);
    CHECK_CONTAINS(fx.msg, "2.0s"); /* how long it took to count as up */
}

TEST(starting_timer_then_exec_ok_is_running)
{
    struct proc_conf c;
    struct proc p;
    struct proc_effects fx;

    conf_defaults(&c);
    proc_init(&p, &c);
    (void)deliver(&p, EV_START, T0);
    fx = deliver(&p, EV_TIMER, T0 + SEC(1));
    check_no_action(&fx, PROC_STARTING); /* exec not confirmed yet */
    CHECK(p.start_elapsed);
    CHECK_INT(p.deadline_ns, 0);
    fx = deliver(&p, EV_EXEC_OK, T0 + SEC(1) + MSEC(5));
    CHECK_INT(fx.from, PROC_STARTING);
    CHECK_INT(fx.to, PROC_RUNNING);
    CHECK(!fx.spawn);
    CHECK_INT(fx.signal, 0);
    CHECK_INT(p.state, PROC_RUNNING);
}

TEST(startsecs_zero_running_on_exec_ok)
{
    struct proc_conf c;
    struct proc p;
    struct proc_effects fx;

    conf_defaults(&c);
    c.startsecs = 0;
    proc_init(&p, &c);
    fx = deliver(&p, EV_START, T0);
    CHECK(fx.spawn);
    CHECK_INT(p.state, PROC_STARTING);
    CHECK_INT(p.deadline_ns, 0); /* no timer needed */
    fx = deliver(&p, EV_EXEC_OK, T0 + MSEC(1));
    CHECK_INT(fx.from, PROC_STARTING);
    CHECK_INT(fx.to, PROC_RUNNING);
    CHECK_INT(p.deadline_ns, 0);
}

TEST(start_from_exited_and_fatal_spawns)
{
    const enum proc_state from[] = {PROC_STOPPED, PROC_EXITED, PROC_FATAL};

    for (size_t i = 0; i < sizeof(from) / sizeof(from[0]); i++) {
        struct proc_conf c;
        struct proc p;
        struct proc_effects fx;
        uint64_t t;

        conf_defaults(&c);
        proc_init(&p, &c);
        t = drive_to(&p, from[i]) + SEC(60);
        fx = deliver(&p, EV_START, t);
        CHECK(fx.spawn);
        CHECK_INT(fx.signal, 0);
        CHECK_INT(fx.from, from[i]);
        CHECK_INT(fx.to, PROC_STARTING);
        CHECK_INT(p.deadline_ns, t + SEC(1));
        CHECK_INT(p.start_ns, t);
        CHECK_INT(p.backoff, 0);
        CHECK_STR(proc_reason(&p), "");
    }
}

/* ---- backoff ----------------------------------------------------------------------------- */

TEST(backoff_delays_then_fatal)
{
    struct proc_conf c;
    struct proc p;
    struct proc_effects fx;
    uint64_t t = T0;
    int spawns = 0;

    conf_defaults(&c);
    c.startsecs = 5;
    c.startretries = 3;
    proc_init(&p, &c);
    fx = deliver(&p, EV_START, t);
    spawns += fx.spawn;
    for (int attempt = 1; attempt <= 3; attempt++) {
        t += MSEC(300);
        fx = send_exit(&p, ST_EXIT(1), t);
        CHECK(!fx.spawn);
        CHECK_INT(fx.signal, 0);
        CHECK_INT(fx.from, PROC_STARTING);
        CHECK_INT(fx.to, PROC_BACKOFF);
        CHECK(!fx.unexpected_exit); /* a failed start is not an "unexpected exit" */
        CHECK(!fx.exited);
        CHECK_INT(p.backoff, attempt);
        CHECK_INT(p.deadline_ns, t + SEC(attempt)); /* 1 s, 2 s, 3 s */
        CHECK_INT(p.pid, 0);
        CHECK_INT(p.last_status, ST_EXIT(1));
        CHECK_CONTAINS(fx.msg, "exit 1");
        /* The retry happens when the backoff deadline is reached. */
        t = p.deadline_ns;
        fx = deliver(&p, EV_TIMER, t);
        CHECK(fx.spawn);
        CHECK_INT(fx.from, PROC_BACKOFF);
        CHECK_INT(fx.to, PROC_STARTING);
        CHECK_INT(p.deadline_ns, t + SEC(5));
        CHECK_INT(p.start_ns, t);
        spawns += fx.spawn;
    }
    t += MSEC(300);
    fx = send_exit(&p, ST_EXIT(1), t);
    CHECK(!fx.spawn);
    CHECK_INT(fx.from, PROC_STARTING);
    CHECK_INT(fx.to, PROC_FATAL);
    CHECK_INT(p.deadline_ns, 0);
    CHECK_INT(spawns, 4); /* startretries=3: the first try and three retries */
    CHECK(proc_reason(&p)[0] != '\0');
    CHECK_CONTAINS(proc_reason(&p), "startsecs=5");
    CHECK_CONTAINS(proc_reason(&p), "4 tries");
    CHECK_CONTAINS(fx.msg, "giving up");
    CHECK(!proc_has_process(&p));
    /* FATAL stays FATAL: no stray deadline brings it back. */
    fx = deliver(&p, EV_TIMER, t + SEC(100));
    check_no_action(&fx, PROC_FATAL);
    proc_release(&p);
}

TEST(startretries_n_gives_n_plus_one_attempts)
{
    for (int retries = 0; retries <= 6; retries++) {
        struct proc_conf c;
        struct proc p;
        struct proc_effects fx;
        uint64_t t = T0;
        int spawns = 0;

        conf_defaults(&c);
        c.startretries = retries;
        proc_init(&p, &c);
        fx = deliver(&p, EV_START, t);
        spawns += fx.spawn;
        for (int guard = 0; guard < 100 && p.state != PROC_FATAL; guard++) {
            t += MSEC(10);
            (void)send_exit(&p, ST_SIG(SIGSEGV), t);
            if (p.state == PROC_BACKOFF) {
                t = p.deadline_ns;
                fx = deliver(&p, EV_TIMER, t);
                spawns += fx.spawn;
            }
        }
        CHECK_INT(p.state, PROC_FATAL);
        CHECK_INT(spawns, retries + 1);
        proc_release(&p);
    }
}

TEST(fork_failed_backs_off)
{
    struct proc_conf c;
    struct proc p;
    struct proc_effects fx;
    uint64_t t = T0;

    conf_defaults(&c);
    c.startretries = 2;
    proc_init(&p, &c);
    (void)deliver(&p, EV_START, t);
    p.pid = 0; /* fork failed: there never was a child */
    fx = send_fork_failed(&p, EAGAIN, t);
    CHECK(!fx.spawn);
    CHECK_INT(fx.signal, 0);
    CHECK_INT(fx.from, PROC_STARTING);
    CHECK_INT(fx.to, PROC_BACKOFF);
    CHECK_INT(p.deadline_ns, t + SEC(1));
    CHECK_CONTAINS(fx.msg, "fork");
    CHECK_CONTAINS(fx.msg, strerror(EAGAIN));
    CHECK(!proc_has_process(&p));
    /* Transient, so it is retried like any failed start, and gives up the same way. */
    fx = deliver(&p, EV_TIMER, p.deadline_ns);
    CHECK(fx.spawn);
    fx = send_fork_failed(&p, ENOMEM, p.start_ns);
    CHECK_INT(fx.to, PROC_BACKOFF);
    CHECK_INT(p.deadline_ns, p.start_ns + SEC(2));
    fx = deliver(&p, EV_TIMER, p.deadline_ns);
    fx = send_fork_failed(&p, ENOMEM, p.start_ns);
    CHECK_INT(fx.to, PROC_FATAL);
    CHECK(proc_reason(&p)[0] != '\0');
    proc_release(&p);
}

TEST(running_resets_backoff)
{
    struct proc_conf c;
    struct proc p;
    struct proc_effects fx;
    uint64_t t = T0;

    conf_defaults(&c);
    proc_init(&p, &c);
    (void)deliver(&p, EV_START, t);
    (void)send_exit(&p, ST_EXIT(1), t + MSEC(10));
    (void)deliver(&p, EV_TIMER, p.deadline_ns);
    (void)send_exit(&p, ST_EXIT(1), p.start_ns + MSEC(10));
    CHECK_INT(p.backoff, 2);
    t = p.deadline_ns;
    (void)deliver(&p, EV_TIMER, t);
    (void)deliver(&p, EV_EXEC_OK, t);
    fx = deliver(&p, EV_TIMER, t + SEC(1));
    CHECK_INT(fx.to, PROC_RUNNING);
    CHECK_INT(p.backoff, 0);
    /* It dies later and is restarted; failing that start backs off from 1 s again. */
    t += SEC(100);
    fx = send_exit(&p, ST_EXIT(1), t);
    CHECK(fx.spawn);
    fx = send_exit(&p, ST_EXIT(1), t + MSEC(10));
    CHECK_INT(fx.to, PROC_BACKOFF);
    CHECK_INT(p.backoff, 1);
    CHECK_INT(p.deadline_ns, t + MSEC(10) + SEC(1));
}

TEST(start_from_fatal_resets_backoff)
{
    struct proc_conf c;
    struct proc p;
    struct proc_effects fx;
    uint64_t t = T0;

    conf_defaults(&c);
    c.startretries = 1;
    proc_init(&p, &c);
    (void)deliver(&p, EV_START, t);
    (void)send_exit(&p, ST_EXIT(1), t + MSEC(10));
    (void)deliver(&p, EV_TIMER, p.deadline_ns);
    fx = send_exit(&p, ST_EXIT(1), p.start_ns + MSEC(10));
    CHECK_INT(fx.to, PROC_FATAL);
    CHECK(proc_reason(&p)[0] != '\0');
    t = p.start_ns + SEC(60);
    fx = deliver(&p, EV_START, t);
    CHECK(fx.spawn);
    CHECK_INT(fx.from, PROC_FATAL);
    CHECK_INT(p.backoff, 0);
    CHECK_STR(proc_reason(&p), "");
    /* A fresh budget: the next failure is a 1 s backoff, not FATAL. */
    fx = send_exit(&p, ST_EXIT(1), t + MSEC(10));
    CHECK_INT(fx.to, PROC_BACKOFF);
    CHECK_INT(p.deadline_ns, t + MSEC(10) + SEC(1));
}

/* supervisord: `start` of a process in BACKOFF answers ALREADY_STARTED (BACKOFF is one of
 * its RUNNING_STATES) and the retry schedule goes on; proc.h's diagram also lists only
 * STOPPED/EXITED/FATAL as states a start leaves. A start must not reset the backoff count,
 * or a crash loop poked by `tend start` (or a reload re-sending autostart) never gives up. */
TEST(start_in_backoff_changes_nothing)
{
    struct proc_conf c;
    struct proc p;
    struct proc_effects fx;
    uint64_t t;

    conf_defaults(&c);
    proc_init(&p, &c);
    t = drive_to(&p, PROC_BACKOFF);
    (void)deliver(&p, EV_TIMER, p.deadline_ns);
    t = p.start_ns + MSEC(10);
    (void)send_exit(&p, ST_EXIT(1), t); /* backoff 2, retry at t + 2 s */
    CHECK_INT(p.backoff, 2);
    fx = deliver(&p, EV_START, t + MSEC(500));
    check_no_action(&fx, PROC_BACKOFF);
    CHECK_INT(p.backoff, 2);
    CHECK_INT(p.deadline_ns, t + SEC(2));
}

/* ---- running and exiting --------------------------------------------------------------- */

static const char *const autorestart_names[] = {"false", "true", "unexpected"};

/* RUNNING + EXITED for every exit code under each autorestart, with exitcodes={0,2}. */
TEST(running_exit_every_code_every_autorestart)
{
    bool ok = true;

    for (int ar = AUTORESTART_FALSE; ar <= AUTORESTART_UNEXPECTED; ar++) {
        for (int code = 0; code < 256; code++) {
            struct proc_conf c;
            struct proc p;
            struct proc_effects fx;
            uint64_t t;
            bool expected = code == 0 || code == 2;
            bool restart = ar == AUTORESTART_TRUE || (ar == AUTORESTART_UNEXPECTED && !expected);
            bool bad = false;

            conf_defaults(&c);
            c.exitcodes = (uint64_t[4]){1 | 1ULL << 2}; /* exit status 0 and 2 */
            c.autorestart = (enum autorestart)ar;
            proc_init(&p, &c);
            t = make_running(&p, T0) + SEC(30);
            p.pid = FAKE_PID + 1;
            fx = send_exit(&p, ST_EXIT(code), t);
            bad |= fx.from != PROC_RUNNING;
            bad |= !fx.exited; /* it passed through EXITED, restarted or not */
            bad |= fx.signal != 0;
            bad |= fx.unexpected_exit != !expected;
            bad |= fx.spawn != restart;
            bad |= p.last_status != ST_EXIT(code);
            bad |= strstr(fx.msg, expected ? "(expected)" : "(unexpected)") == NULL;
            if (restart) {
                bad |= fx.to != PROC_STARTING || p.state != PROC_STARTING;
                bad |= p.restarts != 1;
                bad |= p.deadline_ns != t + SEC(1) || p.start_ns != t;
                bad |= p.pid != FAKE_PID; /* the new child */
            } else {
                bad |= fx.to != PROC_EXITED || p.state != PROC_EXITED;
                bad |= p.restarts != 0;
                bad |= p.deadline_ns != 0;
                bad |= p.pid != 0;
            }
            if (bad) {
                fprintf(stderr, "  autorestart=%s exit %d: to %s spawn %d unexpected %d "
                        "restarts %u msg \"%s\"\n", autorestart_names[ar], code,
                        proc_state_name(fx.to), fx.spawn, fx.unexpected_exit, p.restarts,
                        fx.msg);
                ok = false;
            }
        }
    }
    CHECK(ok);
}

/* A death by signal is never expected, even when every exit code is. */
TEST(running_killed_by_every_signal)
{
    bool ok = true;

    for (int ar = AUTORESTART_FALSE; ar <= AUTORESTART_UNEXPECTED; ar++) {
        for (int sig = 1; sig <= 31; sig++) {
            for (int core = 0; core < 2; core++) {
                struct proc_conf c;
                struct proc p;
                struct proc_effects fx;
                uint64_t t;
                int st = core ? ST_CORE(sig) : ST_SIG(sig);
                bool restart = ar != AUTORESTART_FALSE;
                bool bad = false;

                conf_defaults(&c);
                c.exitcodes = (uint64_t[4]){~0ULL, ~0ULL, ~0ULL, ~0ULL}; /* every one expected */
                c.autorestart = (enum autorestart)ar;
                proc_init(&p, &c);
                t = make_running(&p, T0) + SEC(30);
                fx = send_exit(&p, st, t);
                bad |= !WIFSIGNALED(st) || WTERMSIG(st) != sig;
                bad |= fx.from != PROC_RUNNING || fx.signal != 0;
                bad |= !fx.unexpected_exit || !fx.exited;
                bad |= fx.spawn != restart;
                bad |= fx.to != (restart ? PROC_STARTING : PROC_EXITED);
                bad |= p.restarts != (restart ? 1u : 0u);
                bad |= p.last_status != st;
                bad |= strstr(fx.msg, "(unexpected)") == NULL;
                bad |= strstr(fx.msg, "signal") == NULL;
                if (bad) {
                    fprintf(stderr, "  autorestart=%s signal %d core %d: to %s spawn %d "
                            "unexpected %d msg \"%s\"\n", autorestart_names[ar], sig, core,
                            proc_state_name(fx.to), fx.spawn, fx.unexpected_exit, fx.msg);
                    ok = false;
                }
            }
        }
    }
    CHECK(ok);
}

/* An exit the OOM killer caused (the supervisor learned it from the cgroup) says so in the
 * message and the effects, is remembered for status, and restarts like any SIGKILL. */
TEST(out_of_memory_exit)
{
    struct proc_conf c;
    struct proc p;
    struct proc_effects fx;
    struct proc_event ev = {.kind = EV_EXITED, .status = ST_SIG(SIGKILL), .oom = true};
    uint64_t t;

    conf_defaults(&c);
    proc_init(&p, &c);
    t = make_running(&p, T0) + SEC(30);
    proc_handle(&p, &ev, t, &fx);
    CHECK(fx.oom);
    CHECK(fx.exited && fx.unexpected_exit);
    CHECK(fx.spawn);
    CHECK(p.last_oom);
    CHECK(strstr(fx.msg, "exited: signal 9 (SIGKILL), out of memory after") != NULL);
    p.pid = FAKE_PID;
    (void)deliver(&p, EV_EXEC_OK, t + MSEC(1));
    fx = send_exit(&p, ST_SIG(SIGKILL), t + SEC(40));
    CHECK(!fx.oom);
    CHECK(!p.last_oom);
    CHECK(strstr(fx.msg, "out of memory") == NULL);
}

TEST(restarts_counter_counts_automatic_restarts)
{
    struct proc_conf c;
    struct proc p;
    struct proc_effects fx;
    uint64_t t = T0;

    conf_defaults(&c);
    c.autorestart = AUTORESTART_TRUE;
    proc_init(&p, &c);
    t = make_running(&p, t);
    for (unsigned i = 1; i <= 5; i++) {
        t += SEC(10);
        fx = send_exit(&p, ST_EXIT(0), t);
        CHECK(fx.spawn);
        CHECK(!fx.unexpected_exit);
        CHECK_INT(p.restarts, i);
        CHECK_CONTAINS(fx.msg, "restart");
        (void)deliver(&p, EV_EXEC_OK, t);
        fx = deliver(&p, EV_TIMER, p.deadline_ns);
        CHECK_INT(fx.to, PROC_RUNNING);
        t = p.start_ns + SEC(1);
    }
    /* A user's stop and start is not an automatic restart. */
    (void)deliver(&p, EV_STOP, t);
    (void)send_exit(&p, ST_SIG(SIGTERM), t + SEC(1));
    fx = deliver(&p, EV_START, t + SEC(2));
    CHECK(fx.spawn);
    CHECK_INT(p.restarts, 5);
}

/* supervisord's finish(): an exit after startsecs counts as a RUNNING exit even if the
 * STARTING->RUNNING transition has not been processed yet. Here that happens when the
 * startsecs deadline and the SIGCHLD land in the same epoll batch and the exit is handled
 * first: the process ran long enough and its exit must not count as a failed start. */
TEST(exit_after_startsecs_before_timer_counts_as_running_exit)
{
    struct proc_conf c;
    struct proc p;
    struct proc_effects fx;

    conf_defaults(&c);
    c.startsecs = 1;
    c.autorestart = AUTORESTART_FALSE;
    proc_init(&p, &c);
    (void)deliver(&p, EV_START, T0);
    (void)deliver(&p, EV_EXEC_OK, T0 + MSEC(1));
    /* Ran for 5 s, exited 0; the startsecs timer event has not been delivered yet. */
    fx = send_exit(&p, ST_EXIT(0), T0 + SEC(5));
    CHECK_INT(fx.from, PROC_STARTING);
    CHECK_INT(fx.to, PROC_EXITED); /* not BACKOFF */
    CHECK(!fx.spawn);              /* autorestart=false: not retried either */
    CHECK(!fx.unexpected_exit);
    CHECK_INT(p.backoff, 0);
    CHECK_INT(p.deadline_ns, 0);

    /* The same with an unexpected code under autorestart=unexpected: restarted at once. */
    c.autorestart = AUTORESTART_UNEXPECTED;
    proc_init(&p, &c);
    (void)deliver(&p, EV_START, T0);
    (void)deliver(&p, EV_EXEC_OK, T0 + MSEC(1));
    fx = send_exit(&p, ST_EXIT(3), T0 + SEC(5));
    CHECK(fx.spawn);
    CHECK(fx.unexpected_exit);
    CHECK_INT(fx.to, PROC_STARTING);
    CHECK_INT(p.backoff, 0);
    CHECK_INT(p.restarts, 1);
    CHECK_INT(p.deadline_ns, T0 + SEC(5) + SEC(1));
}

/* ---- stopping ------------------------------------------------------------------------ */

TEST(stop_starting_and_running)
{
    const enum proc_state from[] = {PROC_STARTING, PROC_RUNNING, PROC_UNKNOWN};

    for (size_t i = 0; i < sizeof(from) / sizeof(from[0]); i++) {
        for (int group = 0; group < 2; group++) {
            struct proc_conf c;
            struct proc p;
            struct proc_effects fx;
            uint64_t t;

            conf_defaults(&c);
            c.stopsignal = SIGINT; /* the configured one, not a hard-coded TERM */
            c.stopwaitsecs = 7;
            c.stopasgroup = group;
            c.killasgroup = group;
            proc_init(&p, &c);
            t = drive_to(&p, from[i]) + MSEC(250);
            fx = deliver(&p, EV_STOP, t);
            CHECK(!fx.spawn);
            CHECK_INT(fx.signal, SIGINT);
            CHECK_INT(fx.signal_group, group);
            CHECK_INT(fx.from, from[i]);
            CHECK_INT(fx.to, PROC_STOPPING);
            CHECK_INT(p.deadline_ns, t + SEC(7));
            CHECK(proc_has_process(&p)); /* still there until reaped */
            CHECK_CONTAINS(fx.msg, "SIGINT");
            if (group)
                CHECK_CONTAINS(fx.msg, "process group");
        }
    }
}

TEST(stop_uses_every_stopsignal)
{
    bool ok = true;

    for (int sig = 1; sig <= 31; sig++) {
        struct proc_conf c;
        struct proc p;
        struct proc_effects fx;
        char want[32];

        conf_defaults(&c);
        c.stopsignal = sig;
        proc_init(&p, &c);
        fx = deliver(&p, EV_STOP, make_running(&p, T0));
        snprintf(want, sizeof(want), "SIG%s", sigabbrev_np(sig));
        ok &= fx.signal == sig && fx.to == PROC_STOPPING;
        ok &= strstr(fx.msg, want) != NULL;
    }
    CHECK(ok);
}

TEST(stopping_deadline_sends_sigkill)
{
    const bool combos[][2] = {{false, false}, {false, true}, {true, true}, {true, false}};

    for (size_t i = 0; i < sizeof(combos) / sizeof(combos[0]); i++) {
        struct proc_conf c;
        struct proc p;
        struct proc_effects fx;
        uint64_t t;

        conf_defaults(&c);
        c.stopasgroup = combos[i][0];
        c.killasgroup = combos[i][1];
        c.stopwaitsecs = 3;
        proc_init(&p, &c);
        t = make_running(&p, T0);
        fx = deliver(&p, EV_STOP, t);
        CHECK_INT(fx.signal_group, combos[i][0]);
        CHECK_INT(p.deadline_ns, t + SEC(3));
        t = p.deadline_ns;
        fx = deliver(&p, EV_TIMER, t);
        CHECK(!fx.spawn);
        CHECK_INT(fx.signal, SIGKILL);
        CHECK_INT(fx.signal_group, combos[i][1]);
        CHECK_INT(fx.from, PROC_STOPPING);
        CHECK_INT(fx.to, PROC_STOPPING); /* until the kernel reports the death */
        CHECK_INT(p.deadline_ns, 0);
        CHECK_CONTAINS(fx.msg, "SIGKILL");
        fx = send_exit(&p, ST_SIG(SIGKILL), t + MSEC(1));
        CHECK(!fx.spawn);
        CHECK_INT(fx.signal, 0);
        CHECK_INT(fx.to, PROC_STOPPED);
        CHECK_INT(p.last_status, ST_SIG(SIGKILL));
        CHECK(!proc_has_process(&p));
    }
}

TEST(stopping_exit_is_stopped_never_restarted)
{
    for (int ar = AUTORESTART_FALSE; ar <= AUTORESTART_UNEXPECTED; ar++) {
        const int statuses[] = {ST_EXIT(0), ST_EXIT(1), ST_SIG(SIGTERM), ST_CORE(SIGABRT)};
        for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
            struct proc_conf c;
            struct proc p;
            struct proc_effects fx;
            uint64_t t;

            conf_defaults(&c);
            c.autorestart = (enum autorestart)ar;
            proc_init(&p, &c);
            t = drive_to(&p, PROC_STOPPING) + MSEC(20);
            fx = send_exit(&p, statuses[i], t);
            CHECK(!fx.spawn);
            CHECK_INT(fx.signal, 0);
            CHECK_INT(fx.from, PROC_STOPPING);
            CHECK_INT(fx.to, PROC_STOPPED);
            CHECK(!fx.exited);
            CHECK(!fx.unexpected_exit);
            CHECK_INT(p.deadline_ns, 0);
            CHECK_INT(p.restarts, 0);
            CHECK_INT(p.last_status, statuses[i]);
            CHECK_CONTAINS(fx.msg, "stopped");
        }
    }
}

TEST(restart_is_stop_then_pending_start)
{
    struct proc_conf c;
    struct proc p;
    struct proc_effects fx;
    uint64_t t;

    conf_defaults(&c);
    c.startsecs = 4;
    proc_init(&p, &c);
    t = make_running(&p, T0) + SEC(50);
    fx = deliver(&p, EV_STOP, t);
    CHECK_INT(fx.signal, SIGTERM);
    fx = deliver(&p, EV_START, t);
    check_no_action(&fx, PROC_STOPPING);
    CHECK(p.pending_start);
    CHECK_INT(p.deadline_ns, t + SEC(10)); /* the stop deadline is kept */
    fx = deliver(&p, EV_START, t + MSEC(1)); /* a second start is the same request */
    check_no_action(&fx, PROC_STOPPING);
    t += SEC(2);
    fx = send_exit(&p, ST_SIG(SIGTERM), t);
    CHECK(fx.spawn);
    CHECK_INT(fx.signal, 0);
    CHECK_INT(fx.from, PROC_STOPPING);
    CHECK_INT(fx.to, PROC_STARTING);
    CHECK(!p.pending_start);
    CHECK_INT(p.backoff, 0);
    CHECK_INT(p.start_ns, t);
    CHECK_INT(p.deadline_ns, t + SEC(4));
    CHECK_INT(p.restarts, 0); /* asked for, not automatic */
}

TEST(restart_after_sigkill)
{
    struct proc_conf c;
    struct proc p;
    struct proc_effects fx;
    uint64_t t;

    conf_defaults(&c);
    proc_init(&p, &c);
    t = make_running(&p, T0);
    (void)deliver(&p, EV_STOP, t);
    (void)deliver(&p, EV_START, t);
    fx = deliver(&p, EV_TIMER, p.deadline_ns);
    CHECK_INT(fx.signal, SIGKILL);
    CHECK(!fx.spawn);
    CHECK(p.pending_start);
    fx = send_exit(&p, ST_SIG(SIGKILL), t + SEC(11));
    CHECK(fx.spawn);
    CHECK_INT(fx.to, PROC_STARTING);
}

TEST(stop_while_stopping_cancels_pending_start)
{
    struct proc_conf c;
    struct proc p;
    struct proc_effects fx;
    uint64_t t, deadline;

    conf_defaults(&c);
    proc_init(&p, &c);
    t = drive_to(&p, PROC_STOPPING);
    deadline = p.deadline_ns;
    (void)deliver(&p, EV_START, t + MSEC(1));
    CHECK(p.pending_start);
    fx = deliver(&p, EV_STOP, t + MSEC(2));
    check_no_action(&fx, PROC_STOPPING); /* no second signal */
    CHECK(!p.pending_start);
    CHECK_INT(p.deadline_ns, deadline);  /* the kill deadline is not pushed back */
    fx = send_exit(&p, ST_SIG(SIGTERM), t + SEC(1));
    CHECK(!fx.spawn);
    CHECK_INT(fx.to, PROC_STOPPED);
}

TEST(stop_in_backoff_is_stopped_without_deadline)
{
    struct proc_conf c;
    struct proc p;
    struct proc_effects fx;
    uint64_t t;

    conf_defaults(&c);
    proc_init(&p, &c);
    t = drive_to(&p, PROC_BACKOFF);
    CHECK(p.deadline_ns != 0);
    fx = deliver(&p, EV_STOP, t + MSEC(5));
    CHECK(!fx.spawn);
    CHECK_INT(fx.signal, 0); /* there is no process to signal */
    CHECK_INT(fx.from, PROC_BACKOFF);
    CHECK_INT(fx.to, PROC_STOPPED);
    CHECK_INT(p.deadline_ns, 0);
    /* A backoff timer that fires anyway (already queued) must not respawn it. */
    fx = deliver(&p, EV_TIMER, t + SEC(1));
    check_no_action(&fx, PROC_STOPPED);
    /* And a later start begins with a fresh budget. */
    fx = deliver(&p, EV_START, t + SEC(2));
    CHECK(fx.spawn);
    CHECK_INT(p.backoff, 0);
}

/* ---- exec failures ------------------------------------------------------------------- */

TEST(exec_failed_is_fatal_with_reason)
{
    const struct {
        const char *what;
        int err;
    } cases[] = {
        {"execute /usr/bin/nope", ENOENT},
        {"execute /etc/passwd", EACCES},
        {"change directory to /srv/missing", ENOENT},
        {"set user to nobody", EPERM},
        {"open stdout log /var/log/x.log", EROFS},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct proc_conf c;
        struct proc p;
        struct proc_effects fx;
        char reason[PROC_REASON_MAX];

        conf_defaults(&c);
        proc_init(&p, &c);
        (void)deliver(&p, EV_START, T0);
        fx = send_exec_failed(&p, (int)i, cases[i].what, cases[i].err, T0 + MSEC(1));
        CHECK(!fx.spawn);
        CHECK_INT(fx.signal, 0);
        CHECK_INT(fx.from, PROC_STARTING);
        CHECK_INT(fx.to, PROC_FATAL);
        CHECK_INT(p.deadline_ns, 0);
        CHECK_CONTAINS(proc_reason(&p), cases[i].what);
        CHECK_CONTAINS(proc_reason(&p), strerror(cases[i].err));
        CHECK_CONTAINS(fx.msg, cases[i].what);
        CHECK_CONTAINS(fx.msg, strerror(cases[i].err));
        CHECK_INT(p.backoff, 0); /* FATAL at once, not a crash loop */

        /* The failed child then exits 127 and is reaped: nothing changes. */
        snprintf(reason, sizeof(reason), "%s", proc_reason(&p));
        fx = send_exit(&p, ST_EXIT(127), T0 + MSEC(2));
        check_no_action(&fx, PROC_FATAL);
        CHECK(!fx.unexpected_exit);
        CHECK_STR(fx.msg, "");
        CHECK_STR(proc_reason(&p), reason);
        CHECK_INT(p.deadline_ns, 0);
        CHECK_INT(p.restarts, 0);
        CHECK(!proc_has_process(&p)); /* reaped */
        proc_release(&p);
    }
}

TEST(exec_failed_without_words)
{
    struct proc_conf c;
    struct proc p;
    struct proc_effects fx;

    conf_defaults(&c);
    proc_init(&p, &c);
    (void)deliver(&p, EV_START, T0);
    fx = send_exec_failed(&p, 0, NULL, ENOEXEC, T0);
    CHECK_INT(fx.to, PROC_FATAL);
    CHECK_CONTAINS(proc_reason(&p), strerror(ENOEXEC));
    CHECK(proc_reason(&p)[0] != '\0');
    proc_release(&p);
}

TEST(exec_failed_while_stopping_is_fatal_and_drops_pending_start)
{
    struct proc_conf c;
    struct proc p;
    struct proc_effects fx;

    conf_defaults(&c);
    proc_init(&p, &c);
    (void)deliver(&p, EV_START, T0);
    (void)deliver(&p, EV_STOP, T0);   /* stopped before the report came */
    (void)deliver(&p, EV_START, T0);  /* and restarted: pending */
    CHECK(p.pending_start);
    fx = send_exec_failed(&p, 1, "execute /nope", ENOENT, T0 + MSEC(1));
    CHECK(!fx.spawn);
    CHECK_INT(fx.signal, 0);
    CHECK_INT(fx.to, PROC_FATAL);
    CHECK(!p.pending_start);
    CHECK_INT(p.deadline_ns, 0);
    fx = send_exit(&p, ST_EXIT(127), T0 + MSEC(2));
    check_no_action(&fx, PROC_FATAL);
    proc_release(&p);
}

/* ---- crash loops (proc.h: PROC_CRASH_*) ------------------------------------------------ */

/* One short run under autorestart=true: RUNNING after startsecs, dead 1 s later (well
 * inside PROC_CRASH_RUN_S). Returns the effects of the exit; *t advances. */
static struct proc_effects short_run(struct proc *p, uint64_t *t)
{
    CHECK_INT(p->state, PROC_STARTING);
    (void)deliver(p, EV_EXEC_OK, *t);
    *t = p->start_ns + SEC(p->conf->startsecs);
    (void)deliver(p, EV_TIMER, *t);
    CHECK_INT(p->state, PROC_RUNNING);
    *t += SEC(1);
    return send_exit(p, ST_SIG(SIGSEGV), *t);
}

TEST(crash_loop_backs_off_exponentially)
{
    struct proc_conf c;
    struct proc p;
    struct proc_effects fx;
    uint64_t t = T0;
    int entered = 0;
    uint64_t want_s = 1;

    conf_defaults(&c);
    c.autorestart = AUTORESTART_TRUE;
    proc_init(&p, &c);
    (void)deliver(&p, EV_START, t);
    /* The first crashes restart at once. */
    for (int i = 1; i < PROC_CRASH_LOOP_AFTER; i++) {
        fx = short_run(&p, &t);
        CHECK(fx.spawn);
        CHECK_INT(fx.to, PROC_STARTING);
        CHECK(!fx.crash_loop_entered);
        CHECK_INT(p.crashes, i);
    }
    /* From then on: BACKOFF 1 s, 2 s, 4 s ... capped. */
    for (int i = PROC_CRASH_LOOP_AFTER; i < PROC_CRASH_LOOP_AFTER + 10; i++) {
        fx = short_run(&p, &t);
        CHECK(!fx.spawn);
        CHECK_INT(fx.signal, 0);
        CHECK_INT(fx.from, PROC_RUNNING);
        CHECK_INT(fx.to, PROC_BACKOFF);
        CHECK(fx.exited);
        CHECK(fx.unexpected_exit);
        CHECK(p.crash_loop);
        CHECK_INT(p.crashes, i);
        CHECK_INT(p.restarts, i); /* counted when scheduled */
        CHECK_INT(p.deadline_ns, t + SEC(want_s));
        entered += fx.crash_loop_entered;
        t = p.deadline_ns;
        fx = deliver(&p, EV_TIMER, t);
        CHECK(fx.spawn);
        CHECK_INT(p.restarts, i); /* ... and not twice */
        want_s = want_s * 2 > PROC_CRASH_BACKOFF_MAX_S ? PROC_CRASH_BACKOFF_MAX_S : want_s * 2;
    }
    CHECK_INT(entered, 1); /* reported once, on the way in */
    CHECK_INT(want_s, PROC_CRASH_BACKOFF_MAX_S); /* the cap was reached */
}

TEST(crash_loop_ends_when_it_stays_up)
{
    struct proc_conf c;
    struct proc p;
    struct proc_effects fx;
    uint64_t t = T0;

    conf_defaults(&c);
    c.autorestart = AUTORESTART_TRUE;
    proc_init(&p, &c);
    (void)deliver(&p, EV_START, t);
    for (int i = 0; i < PROC_CRASH_LOOP_AFTER; i++)
        (void)short_run(&p, &t);
    CHECK_INT(p.state, PROC_BACKOFF);
    (void)deliver(&p, EV_TIMER, p.deadline_ns);
    (void)deliver(&p, EV_EXEC_OK, p.start_ns);
    fx = deliver(&p, EV_TIMER, p.start_ns + SEC(1));
    CHECK_INT(fx.to, PROC_RUNNING);
    /* Running, with a deadline at PROC_CRASH_RUN_S after its start. */
    CHECK_INT(p.deadline_ns, p.start_ns + SEC(PROC_CRASH_RUN_S));
    fx = deliver(&p, EV_TIMER, p.deadline_ns);
    check_no_action(&fx, PROC_RUNNING);
    CHECK(fx.crash_loop_exited);
    CHECK(!fx.crash_loop_entered);
    CHECK(!p.crash_loop);
    CHECK_INT(p.crashes, 0);
    CHECK_INT(p.deadline_ns, 0);
    /* A later crash is the first of a new series: restarted at once. */
    t = p.start_ns + SEC(60);
    fx = send_exit(&p, ST_SIG(SIGSEGV), t);
    CHECK(fx.spawn);
    CHECK_INT(p.crashes, 0); /* a 60 s run is not a crash */
}

TEST(long_run_resets_crash_count)
{
    struct proc_conf c;
    struct proc p;
    struct proc_effects fx;
    uint64_t t = T0;

    conf_defaults(&c);
    c.autorestart = AUTORESTART_TRUE;
    proc_init(&p, &c);
    (void)deliver(&p, EV_START, t);
    for (int i = 1; i < PROC_CRASH_LOOP_AFTER; i++)
        (void)short_run(&p, &t);
    CHECK_INT(p.crashes, PROC_CRASH_LOOP_AFTER - 1);
    (void)deliver(&p, EV_EXEC_OK, t);
    (void)deliver(&p, EV_TIMER, p.start_ns + SEC(1));
    /* It dies after PROC_CRASH_RUN_S exactly (its crash deadline not processed yet). */
    t = p.start_ns + SEC(PROC_CRASH_RUN_S);
    fx = send_exit(&p, ST_SIG(SIGSEGV), t);
    CHECK(fx.spawn);
    CHECK_INT(fx.to, PROC_STARTING);
    CHECK(!fx.crash_loop_entered);
    CHECK_INT(p.crashes, 0);
}

/* `tend restart` is STOP then START. Restarting a crash-looping process must give the same
 * fresh start as stopping it and starting it again: on_start forgets the crash history, so
 * the pending start that ends STOPPING must as well. */
TEST(restart_forgets_crash_history_like_stop_then_start)
{
    for (int via_pending = 0; via_pending < 2; via_pending++) {
        struct proc_conf c;
        struct proc p;
        struct proc_effects fx;
        uint64_t t = T0;

        conf_defaults(&c);
        c.autorestart = AUTORESTART_TRUE;
        proc_init(&p, &c);
        (void)deliver(&p, EV_START, t);
        for (int i = 0; i < PROC_CRASH_LOOP_AFTER; i++)
            (void)short_run(&p, &t);
        (void)deliver(&p, EV_TIMER, p.deadline_ns); /* crash-loop retry */
        (void)deliver(&p, EV_EXEC_OK, p.start_ns);
        (void)deliver(&p, EV_TIMER, p.start_ns + SEC(1));
        CHECK_INT(p.state, PROC_RUNNING);
        CHECK(p.crash_loop);
        t = p.start_ns + SEC(2);
        (void)deliver(&p, EV_STOP, t);
        if (via_pending) {
            (void)deliver(&p, EV_START, t); /* restart: start pending until it is down */
            fx = send_exit(&p, ST_SIG(SIGTERM), t + MSEC(100));
        } else {
            (void)send_exit(&p, ST_SIG(SIGTERM), t + MSEC(100));
            fx = deliver(&p, EV_START, t + MSEC(100));
        }
        CHECK(fx.spawn);
        if (p.crashes != 0 || p.crash_loop)
            fprintf(stderr, "  %s: crashes %d, crash_loop %d after the fresh start\n",
                    via_pending ? "restart" : "stop+start", p.crashes, p.crash_loop);
        CHECK_INT(p.crashes, 0);
        CHECK(!p.crash_loop);
        /* So one quick crash of the new instance restarts it at once, no BACKOFF. */
        t = p.start_ns;
        fx = short_run(&p, &t);
        CHECK(fx.spawn);
        CHECK_INT(fx.to, PROC_STARTING);
    }
}

/* ---- events that change nothing --------------------------------------------------------- */

/* Every (state, event) cell where the event must be ignored: no spawn, no signal, the same
 * state, deadline, backoff, restart count, pending start and reason. */
TEST(ignored_events_change_nothing)
{
    static const struct {
        enum proc_state state;
        enum proc_event_kind kind;
    } cells[] = {
        {PROC_STOPPED, EV_STOP},        {PROC_STOPPED, EV_EXEC_OK},
        {PROC_STOPPED, EV_EXEC_FAILED}, {PROC_STOPPED, EV_FORK_FAILED},
        {PROC_STOPPED, EV_EXITED},      {PROC_STOPPED, EV_TIMER},
        {PROC_STARTING, EV_START},
        {PROC_RUNNING, EV_START},       {PROC_RUNNING, EV_EXEC_OK},
        {PROC_RUNNING, EV_EXEC_FAILED}, {PROC_RUNNING, EV_FORK_FAILED},
        {PROC_RUNNING, EV_TIMER},
        /* BACKOFF + START: start_in_backoff_changes_nothing */
        {PROC_BACKOFF, EV_EXEC_OK},
        {PROC_BACKOFF, EV_EXEC_FAILED}, {PROC_BACKOFF, EV_FORK_FAILED},
        {PROC_BACKOFF, EV_EXITED},
        {PROC_STOPPING, EV_STOP},       {PROC_STOPPING, EV_EXEC_OK},
        {PROC_STOPPING, EV_FORK_FAILED},
        {PROC_EXITED, EV_STOP},         {PROC_EXITED, EV_EXEC_OK},
        {PROC_EXITED, EV_EXEC_FAILED},  {PROC_EXITED, EV_FORK_FAILED},
        {PROC_EXITED, EV_EXITED},       {PROC_EXITED, EV_TIMER},
        {PROC_FATAL, EV_STOP},          {PROC_FATAL, EV_EXEC_OK},
        {PROC_FATAL, EV_EXEC_FAILED},   {PROC_FATAL, EV_FORK_FAILED},
        {PROC_FATAL, EV_EXITED},        {PROC_FATAL, EV_TIMER},
        {PROC_UNKNOWN, EV_START},       {PROC_UNKNOWN, EV_EXEC_OK},
        {PROC_UNKNOWN, EV_EXEC_FAILED}, {PROC_UNKNOWN, EV_FORK_FAILED},
        {PROC_UNKNOWN, EV_TIMER},
        {PROC_STOPPED, EV_SHORTAGE},    {PROC_RUNNING, EV_SHORTAGE},
        {PROC_BACKOFF, EV_SHORTAGE},    {PROC_EXITED, EV_SHORTAGE},
        {PROC_FATAL, EV_SHORTAGE},      {PROC_UNKNOWN, EV_SHORTAGE},
    };
    static const char *const kind_names[] = {
        [EV_START] = "START",          [EV_STOP] = "STOP",       [EV_EXEC_OK] = "EXEC_OK",
        [EV_EXEC_FAILED] = "EXEC_FAILED", [EV_FORK_FAILED] = "FORK_FAILED",
        [EV_EXITED] = "EXITED",        [EV_TIMER] = "TIMER",
        [EV_HEALTH_FAILED] = "HEALTH_FAILED", [EV_SHORTAGE] = "SHORTAGE"};

    for (size_t i = 0; i < sizeof(cells) / sizeof(cells[0]); i++) {
        struct proc_conf c;
        struct proc p, before;
        char reason_before[PROC_REASON_MAX];
        struct proc_event ev = {.kind = cells[i].kind, .status = ST_EXIT(0), .stage = 1,
                                .err = ENOENT, .what = "execute /x"};
        struct proc_effects fx;
        uint64_t t;
        bool bad = false;

        conf_defaults(&c);
        c.autorestart = AUTORESTART_TRUE;
        proc_init(&p, &c);
        t = drive_to(&p, cells[i].state);
        before = p;
        snprintf(reason_before, sizeof(reason_before), "%s", proc_reason(&p));
        /* A stray TIMER in BACKOFF would be a real deadline; everywhere else, "now" is a
         * time at which nothing is due. */
        proc_handle(&p, &ev, t + MSEC(100), &fx);
        bad |= fx.spawn || fx.signal != 0 || fx.unexpected_exit;
        bad |= fx.from != cells[i].state || fx.to != cells[i].state;
        bad |= p.state != before.state || p.deadline_ns != before.deadline_ns;
        bad |= p.backoff != before.backoff || p.restarts != before.restarts;
        bad |= p.pending_start != before.pending_start;
        bad |= strcmp(proc_reason(&p), reason_before) != 0;
        bad |= p.start_ns != before.start_ns;
        if (bad) {
            fprintf(stderr, "  %s + %s: to %s spawn %d signal %d deadline %llu -> %llu "
                    "reason \"%s\"\n", proc_state_name(cells[i].state),
                    kind_names[cells[i].kind], proc_state_name(fx.to), fx.spawn, fx.signal,
                    (unsigned long long)before.deadline_ns, (unsigned long long)p.deadline_ns,
                    proc_reason(&p));
            CHECK(false);
        }
        proc_release(&p);
    }
}

static struct proc_effects send_shortage(struct proc *p, int err, const char *what, uint64_t now)
{
    struct proc_event ev = {.kind = EV_SHORTAGE, .err = err, .what = what};
    struct proc_effects fx;

    proc_handle(p, &ev, now, &fx);
    return fx;
}

/* A fork that fails for want of a resource waits in BACKOFF, doubling its delay up to the
 * cap, for as long as the shortage lasts: startretries (3 here) never runs out, nothing is
 * counted as a restart, and the first spawn that gets through ends the wait. */
TEST(shortage_waits_without_counting_startretries)
{
    struct proc_conf c;
    struct proc p;
    struct proc_effects fx;
    uint64_t t = T0;
    uint64_t expect_ms = PROC_SHORTAGE_FIRST_MS;

    conf_defaults(&c);
    proc_init(&p, &c);
    fx = deliver(&p, EV_START, t);
    CHECK(fx.spawn);
    p.pid = 0; /* the fork failed: no child */
    for (int i = 0; i < 20; i++) {
        fx = send_shortage(&p, EAGAIN, "fork", t);
        CHECK_INT(fx.to, PROC_BACKOFF);
        CHECK(fx.shortage_entered == (i == 0));
        CHECK(!fx.shortage_exited);
        CHECK_INT(p.backoff, 0);
        CHECK_INT(p.shortage_err, EAGAIN);
        CHECK_INT(p.shortage_tries, i + 1);
        CHECK_INT(p.restarts, 0);
        CHECK(strstr(proc_reason(&p), "waiting for a free process slot") == proc_reason(&p));
        CHECK(strstr(proc_reason(&p), "cannot fork: Resource temporarily unavailable") != NULL);
        CHECK_INT(p.deadline_ns - t, MSEC(expect_ms));
        t = p.deadline_ns;
        fx = deliver(&p, EV_TIMER, t);
        CHECK(fx.spawn);
        CHECK_INT(fx.to, PROC_STARTING);
        CHECK_INT(p.restarts, 0);
        p.pid = 0;
        expect_ms = expect_ms * 2 > PROC_SHORTAGE_MAX_MS ? PROC_SHORTAGE_MAX_MS : expect_ms * 2;
    }
    CHECK_INT(expect_ms, PROC_SHORTAGE_MAX_MS);
    p.pid = FAKE_PID;
    fx = deliver(&p, EV_EXEC_OK, t + MSEC(1));
    CHECK(fx.shortage_exited);
    CHECK(!fx.shortage_entered);
    CHECK_INT(p.shortage_err, 0);
    CHECK_INT(p.shortage_tries, 0);
    CHECK_STR(proc_reason(&p), "");
    fx = deliver(&p, EV_TIMER, t + SEC(1));
    CHECK_INT(fx.to, PROC_RUNNING);
    CHECK(!fx.shortage_exited);
}

/* Each resource is named; a later shortage after recovery starts again at the first delay
 * and raises a new "entered". */
TEST(shortage_names_the_resource_and_starts_afresh)
{
    static const struct {
        int err;
        const char *words;
    } cases[] = {
        {EAGAIN, "a free process slot"},
        {ENOMEM, "memory"},
        {EMFILE, "free file descriptors (tend's RLIMIT_NOFILE)"},
        {ENFILE, "free file descriptors (the system's file-max)"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct proc_conf c;
        struct proc p;
        struct proc_effects fx;
        uint64_t t = make_running((conf_defaults(&c), proc_init(&p, &c), &p), T0);

        CHECK(proc_err_is_shortage(cases[i].err));
        /* Dies after a long run: restarted at once, and that spawn is short of something. */
        t += SEC(100);
        fx = send_exit(&p, ST_EXIT(1), t);
        CHECK(fx.spawn);
        CHECK_INT(p.restarts, 1);
        p.pid = 0;
        fx = send_shortage(&p, cases[i].err, "create a pipe", t);
        CHECK(fx.shortage_entered);
        CHECK(strstr(proc_reason(&p), cases[i].words) != NULL);
        CHECK(strstr(proc_reason(&p), "cannot create a pipe: ") != NULL);
        CHECK(strstr(fx.msg, "startretries not counted") != NULL);
        fx = deliver(&p, EV_TIMER, p.deadline_ns);
        CHECK(fx.spawn);
        CHECK_INT(p.restarts, 1); /* the same restart, still trying */
        fx = deliver(&p, EV_EXEC_OK, t + SEC(1));
        CHECK(fx.shortage_exited);
        t += SEC(2);
        (void)deliver(&p, EV_TIMER, t);
        CHECK_INT(p.state, PROC_RUNNING);
        t += SEC(100);
        fx = send_exit(&p, ST_EXIT(1), t);
        p.pid = 0;
        fx = send_shortage(&p, cases[i].err, "fork", t);
        CHECK(fx.shortage_entered);
        CHECK_INT(p.deadline_ns - t, MSEC(PROC_SHORTAGE_FIRST_MS));
        proc_release(&p);
    }
    CHECK(!proc_err_is_shortage(ENOENT));
    CHECK(!proc_err_is_shortage(0));
    CHECK(proc_shortage_resource(EACCES) == NULL);
}

/* A stop while waiting ends the wait (no alert that it recovered); a start tries at once. A
 * failure of another kind after a shortage ends it too: the resource was there. */
TEST(shortage_stop_and_other_failures)
{
    struct proc_conf c;
    struct proc p;
    struct proc_effects fx;

    conf_defaults(&c);
    proc_init(&p, &c);
    (void)deliver(&p, EV_START, T0);
    p.pid = 0;
    (void)send_shortage(&p, EMFILE, "fork", T0);
    fx = deliver(&p, EV_STOP, T0 + MSEC(10));
    CHECK_INT(fx.to, PROC_STOPPED);
    CHECK(!fx.shortage_exited);
    CHECK_INT(p.shortage_err, 0);
    CHECK_STR(proc_reason(&p), "");
    fx = deliver(&p, EV_START, T0 + MSEC(20));
    CHECK(fx.spawn);
    p.pid = 0;
    fx = send_shortage(&p, EMFILE, "fork", T0 + MSEC(20));
    CHECK(fx.shortage_entered);
    (void)deliver(&p, EV_TIMER, p.deadline_ns);
    fx = send_exec_failed(&p, 1, "execute /nope", ENOENT, p.start_ns);
    CHECK(fx.shortage_exited);
    CHECK_INT(fx.to, PROC_FATAL);
    CHECK(strstr(proc_reason(&p), "execute /nope") != NULL);

    /* A fork failure that is not a shortage still counts against startretries. */
    proc_release(&p);
    proc_init(&p, &c);
    (void)deliver(&p, EV_START, T0);
    p.pid = 0;
    fx = send_fork_failed(&p, EINVAL, T0);
    CHECK_INT(fx.to, PROC_BACKOFF);
    CHECK_INT(p.backoff, 1);
    CHECK_INT(p.shortage_err, 0);

    /* A child that reported the shortage after a restart was asked for (STOPPING with a
     * pending start) waits for it; without a pending start it is simply stopped. */
    proc_release(&p);
    proc_init(&p, &c);
    (void)deliver(&p, EV_START, T0);
    (void)deliver(&p, EV_STOP, T0 + MSEC(1));
    CHECK_INT(p.state, PROC_STOPPING);
    (void)deliver(&p, EV_START, T0 + MSEC(2));
    CHECK(p.pending_start);
    fx = send_shortage(&p, EAGAIN, "execute", T0 + MSEC(3));
    CHECK_INT(fx.to, PROC_BACKOFF);
    CHECK(fx.shortage_entered);
    fx = send_exit(&p, ST_EXIT(127), T0 + MSEC(4));
    CHECK_INT(fx.to, PROC_BACKOFF);
    CHECK_INT(p.pid, 0);
    proc_release(&p);
    proc_init(&p, &c);
    (void)deliver(&p, EV_START, T0);
    (void)deliver(&p, EV_STOP, T0 + MSEC(1));
    fx = send_shortage(&p, EAGAIN, "execute", T0 + MSEC(3));
    CHECK_INT(fx.to, PROC_STOPPED);
    CHECK(!fx.shortage_entered);
    proc_release(&p);
}

TEST(unknown_state_start_and_stop)
{
    struct proc_conf c;
    struct proc p;
    struct proc_effects fx;

    conf_defaults(&c);
    proc_init(&p, &c);
    drive_to(&p, PROC_UNKNOWN);
    fx = deliver(&p, EV_START, T0);
    check_no_action(&fx, PROC_UNKNOWN);
    fx = deliver(&p, EV_STOP, T0);
    CHECK_INT(fx.to, PROC_STOPPING);
    CHECK_INT(fx.signal, SIGTERM);
    fx = send_exit(&p, ST_SIG(SIGTERM), T0 + SEC(1));
    CHECK_INT(fx.to, PROC_STOPPED);
    CHECK(!fx.spawn);
}

/* ---- readiness ---- */

/* readiness=notify: STARTING lasts past startsecs until EV_READY; then RUNNING at once. */
TEST(readiness_waits_for_ready_not_startsecs)
{
    struct proc_conf c;
    struct proc p;
    struct proc_effects fx;

    conf_defaults(&c);
    c.readiness = READY_NOTIFY;
    c.ready = &(struct proc_ready){.startwaitsecs = 30};
    proc_init(&p, &c);
    fx = deliver(&p, EV_START, T0);
    CHECK(fx.spawn);
    CHECK(p.deadline_ns == T0 + SEC(30));
    (void)deliver(&p, EV_EXEC_OK, T0 + MSEC(1));
    CHECK_INT(p.state, PROC_STARTING); /* startsecs=1 means nothing here */
    fx = deliver(&p, EV_READY, T0 + SEC(2));
    CHECK_INT(fx.to, PROC_RUNNING);
    CHECK(strstr(fx.msg, "ready") != NULL);
    /* READY=1 again (after RELOADING=1) changes nothing. */
    fx = deliver(&p, EV_READY, T0 + SEC(3));
    check_no_action(&fx, PROC_RUNNING);
}

/* READY=1 before the exec is confirmed: RUNNING on the confirmation. */
TEST(readiness_ready_before_exec_ok)
{
    struct proc_conf c;
    struct proc p;
    struct proc_effects fx;

    conf_defaults(&c);
    c.readiness = READY_TCP;
    c.ready = &(struct proc_ready){.startwaitsecs = 30};
    proc_init(&p, &c);
    (void)deliver(&p, EV_START, T0);
    fx = deliver(&p, EV_READY, T0 + MSEC(1));
    CHECK_INT(fx.to, PROC_STARTING);
    fx = deliver(&p, EV_EXEC_OK, T0 + MSEC(2));
    CHECK_INT(fx.to, PROC_RUNNING);
}

/* Not ready within startwaitsecs: stopped, and its exit is a failed start (backoff), until
 * startretries are used up: FATAL with the reason. */
TEST(readiness_timeout_is_a_failed_start)
{
    struct proc_conf c;
    struct proc p;
    struct proc_effects fx;
    uint64_t t = T0;

    conf_defaults(&c);
    c.readiness = READY_NOTIFY;
    c.ready = &(struct proc_ready){.startwaitsecs = 5};
    c.startretries = 1;
    proc_init(&p, &c);
    (void)deliver(&p, EV_START, t);
    (void)deliver(&p, EV_EXEC_OK, t + MSEC(1));
    t += SEC(5);
    fx = deliver(&p, EV_TIMER, t);
    CHECK_INT(fx.to, PROC_STOPPING);
    CHECK_INT(fx.signal, SIGTERM);
    CHECK(strstr(fx.msg, "not ready within startwaitsecs=5") != NULL);
    fx = send_exit(&p, ST_SIG(SIGTERM), t + MSEC(10));
    CHECK_INT(fx.to, PROC_BACKOFF);
    CHECK_INT(p.backoff, 1);
    t = p.deadline_ns;
    fx = deliver(&p, EV_TIMER, t);
    CHECK(fx.spawn);
    (void)deliver(&p, EV_EXEC_OK, t + MSEC(1));
    /* EXTEND_TIMEOUT_USEC= pushes the deadline out, never in. */
    struct proc_event ext = {.kind = EV_EXTEND_TIMEOUT, .extend_ns = SEC(20)};
    proc_handle(&p, &ext, t + SEC(1), &fx);
    CHECK(p.deadline_ns == t + SEC(21));
    ext.extend_ns = SEC(1);
    proc_handle(&p, &ext, t + SEC(2), &fx);
    CHECK(p.deadline_ns == t + SEC(21));
    t += SEC(21);
    fx = deliver(&p, EV_TIMER, t);
    CHECK_INT(fx.to, PROC_STOPPING);
    fx = send_exit(&p, ST_SIG(SIGTERM), t + MSEC(10));
    CHECK_INT(fx.to, PROC_FATAL);
    CHECK(strstr(proc_reason(&p), "not ready within startwaitsecs=5 in 2 tries") != NULL);
    proc_release(&p);
}

/* Exiting before it is ready is a failed start even after startsecs. */
TEST(readiness_exit_before_ready_is_a_failed_start)
{
    struct proc_conf c;
    struct proc p;
    struct proc_effects fx;

    conf_defaults(&c);
    c.readiness = READY_HEALTHCHECK;
    c.ready = &(struct proc_ready){.startwaitsecs = 60};
    proc_init(&p, &c);
    (void)deliver(&p, EV_START, T0);
    (void)deliver(&p, EV_EXEC_OK, T0 + MSEC(1));
    fx = send_exit(&p, ST_EXIT(0), T0 + SEC(10));
    CHECK_INT(fx.to, PROC_BACKOFF);
    CHECK(!fx.exited);
}

/* A user's stop during the timeout's stop cancels the retry. */
TEST(readiness_stop_cancels_failed_start_retry)
{
    struct proc_conf c;
    struct proc p;
    struct proc_effects fx;

    conf_defaults(&c);
    c.readiness = READY_NOTIFY;
    c.ready = &(struct proc_ready){.startwaitsecs = 5};
    proc_init(&p, &c);
    (void)deliver(&p, EV_START, T0);
    (void)deliver(&p, EV_EXEC_OK, T0 + MSEC(1));
    (void)deliver(&p, EV_TIMER, T0 + SEC(5));
    (void)deliver(&p, EV_STOP, T0 + SEC(6));
    fx = send_exit(&p, ST_SIG(SIGTERM), T0 + SEC(7));
    CHECK_INT(fx.to, PROC_STOPPED);
    CHECK(!fx.spawn);
}

/* With readiness=startsecs (the default), EV_READY is ignored. */
TEST(readiness_event_ignored_with_startsecs)
{
    struct proc_conf c;
    struct proc p;
    struct proc_effects fx;

    conf_defaults(&c);
    proc_init(&p, &c);
    (void)deliver(&p, EV_START, T0);
    (void)deliver(&p, EV_EXEC_OK, T0 + MSEC(1));
    fx = deliver(&p, EV_READY, T0 + MSEC(2));
    check_no_action(&fx, PROC_STARTING);
}

HARNESS_MAIN()
