/* Unit tests of fdring: pipes held in an io_uring's registered table, outside the descriptor
 * table, watched from the loop, lent as descriptors, and closed for real when dropped. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../harness.h"
#include "fdring.h"
#include "loop.h"

struct seen {
    struct loop *loop;
    int slot;
    int calls;
    uint32_t revents;
    char got[64];
    size_t len;
    bool unwatch_at_end;
};

/* Reads what the held pipe has through a lent descriptor, as logcap does. */
static void on_ready(void *ctx, uint32_t revents)
{
    struct seen *s = ctx;
    int fd = fdring_fd(s->slot);

    s->calls++;
    s->revents = revents;
    if (fd >= 0) {
        ssize_t n = read(fd, s->got + s->len, sizeof(s->got) - 1 - s->len);
        if (n > 0)
            s->len += (size_t)n;
        if (n == 0 && s->unwatch_at_end)
            fdring_unwatch(s->slot);
        close(fd);
    }
    loop_stop(s->loop);
}

/* Runs the loop until a callback stops it. */
static int run(struct loop *loop)
{
    loop->stopping = false;
    return loop_run(loop);
}

static bool fd_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1;
}

TEST(a_held_pipe_is_read_and_closed_when_dropped)
{
    struct loop loop;
    int p[2];

    if (!fdring_available()) {
        printf("  (skipped: io_uring with fixed-descriptor install is not available)\n");
        return;
    }
    CHECK(loop_init(&loop) == 0);
    CHECK(fdring_open(&loop, 8) == 0);
    CHECK_INT(fdring_slots(), 8);
    CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
    int rd = p[0];
    int slot = fdring_hold(rd);
    CHECK(slot >= 0);
    /* The read end is no descriptor of ours any more, yet the pipe has its reader. */
    CHECK(!fd_open(rd));
    CHECK_INT(fdring_held(), 1);
    CHECK(write(p[1], "hello", 5) == 5);

    struct seen s = {.loop = &loop, .slot = slot, .unwatch_at_end = true};
    CHECK(fdring_watch(slot, on_ready, &s) == 0);
    CHECK(run(&loop) == 0);
    CHECK_INT(s.calls, 1);
    CHECK(s.revents & POLLIN);
    CHECK_STR(s.got, "hello");

    /* Level-triggered: more data, another callback; the writer's close is seen too. */
    CHECK(write(p[1], " world", 6) == 6);
    CHECK(run(&loop) == 0);
    CHECK_STR(s.got, "hello world");
    close(p[1]);
    CHECK(run(&loop) == 0);
    CHECK(s.revents & POLLHUP);
    CHECK(!fdring_watched(slot));

    /* A descriptor lent for writing names the same pipe (logcap's write ends). */
    int tmp = fdring_fd(slot);
    CHECK(tmp >= 0);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", tmp);
    int wr = open(path, O_WRONLY | O_CLOEXEC);
    CHECK(wr >= 0);
    CHECK(fcntl(tmp, F_GETFD) & FD_CLOEXEC);
    close(tmp);
    CHECK(write(wr, "again", 5) == 5);
    s.calls = 0;
    s.len = 0;
    memset(s.got, 0, sizeof s.got);
    s.unwatch_at_end = false;
    CHECK(fdring_watch(slot, on_ready, &s) == 0);
    CHECK(run(&loop) == 0);
    CHECK_STR(s.got, "again");

    /* Dropped: the pipe loses its only reader, and a writer learns it (EPIPE). */
    fdring_drop(slot);
    CHECK_INT(fdring_held(), 0);
    signal(SIGPIPE, SIG_IGN);
    errno = 0;
    CHECK(write(wr, "x", 1) == -1 && errno == EPIPE);
    close(wr);
    fdring_close();
    loop_free(&loop);
}

TEST(a_full_table_says_so)
{
    struct loop loop;
    int p[2][2];

    if (!fdring_available())
        return;
    CHECK(loop_init(&loop) == 0);
    CHECK(fdring_open(&loop, 1) == 0);
    CHECK(pipe2(p[0], O_CLOEXEC) == 0 && pipe2(p[1], O_CLOEXEC) == 0);
    int a = fdring_hold(p[0][0]);
    CHECK(a == 0);
    errno = 0;
    CHECK(fdring_hold(p[1][0]) == -1 && errno == ENOSPC);
    CHECK(fd_open(p[1][0])); /* a refused descriptor stays the caller's */
    fdring_drop(a);
    CHECK(fdring_hold(p[1][0]) == 0);
    for (int i = 0; i < 2; i++)
        close(p[i][1]);
    fdring_close();
    CHECK_INT(fdring_ring_fd(), -1);
    loop_free(&loop);
}

HARNESS_MAIN()
