/* flood: write numbered lines as fast as possible, for log capture tests.
 *
 *   usage: flood [-n LINES] [-s LINE_SIZE] [-e] [-l]
 *
 *   -n LINES      how many lines (default 1000; 0 = until killed or the reader goes away)
 *   -s LINE_SIZE  bytes per line including the newline (default 64; at least the number and
 *                 the newline are always written, so a too-small size gives short lines)
 *   -e            write to stderr instead of stdout
 *   -l            one write(2) per line, instead of batches of whole lines up to 64 KiB
 *   -r RATE       at most RATE lines per second (implies -l): paced on absolute deadlines,
 *                 a load generator for tests that need output flowing while they act
 *
 * Line K (from 1) is K as eight or more decimal digits, a space, then filler up to LINE_SIZE
 * bytes, then "\n". The filler is the letter 'a' + K % 26 repeated, so a reader can check both
 * order (numbers ascending by one) and integrity (each line's filler matches its number).
 * Writes never split a line across two batches. Exit status 0, or 1 on a write error (with
 * a message); EPIPE kills it with SIGPIPE unless the caller ignores that signal. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCH_BYTES 65536
#define MAX_LINE_SIZE (1 << 20)

static int write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w == -1 && errno == EINTR)
            continue;
        if (w == -1)
            return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

static int parse_count(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    errno = 0;
    if (*s == '-')
        return -1;
    *out = strtoull(s, &end, 10);
    return (errno == 0 && end != s && *end == '\0' && *out <= max) ? 0 : -1;
}

/* Format line K into buf (which has room for max(size, 32) bytes); returns its length. */
static size_t format_line(char *buf, unsigned long long k, size_t size)
{
    int n = snprintf(buf, 32, "%08llu", k);
    size_t len = (size_t)n;
    if (len + 2 <= size) {
        buf[len++] = ' ';
        memset(buf + len, 'a' + (int)(k % 26), size - 1 - len);
        len = size - 1;
    }
    buf[len++] = '\n';
    return len;
}

int main(int argc, char **argv)
{
    unsigned long long lines = 1000, size = 64, rate = 0, k;
    struct timespec next;
    int fd = STDOUT_FILENO, per_line = 0, opt;
    size_t cap, used = 0;
    char *batch;

    while ((opt = getopt(argc, argv, "n:s:elr:")) != -1) {
        switch (opt) {
        case 'n':
            if (parse_count(optarg, ~0ULL, &lines) == -1) {
                fprintf(stderr, "flood: -n: not a line count: '%s'\n", optarg);
                return 2;
            }
            break;
        case 's':
            if (parse_count(optarg, MAX_LINE_SIZE, &size) == -1 || size < 1) {
                fprintf(stderr, "flood: -s: want 1..%d bytes, got '%s'\n", MAX_LINE_SIZE,
                        optarg);
                return 2;
            }
            break;
        case 'e':
            fd = STDERR_FILENO;
            break;
        case 'l':
            per_line = 1;
            break;
        case 'r':
            if (parse_count(optarg, 1000000, &rate) == -1 || rate < 1) {
                fprintf(stderr, "flood: -r: want 1..1000000 lines/s, got '%s'\n", optarg);
                return 2;
            }
            per_line = 1;
            break;
        default:
            fprintf(stderr, "usage: flood [-n LINES] [-s LINE_SIZE] [-e] [-l] [-r RATE]\n");
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "usage: flood [-n LINES] [-s LINE_SIZE] [-e] [-l] [-r RATE]\n");
        return 2;
    }

    /* Room for a full batch plus one more line, however long. */
    cap = BATCH_BYTES + (size_t)size + 32;
    batch = malloc(cap);
    if (batch == NULL) {
        perror("flood");
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (k = 1; lines == 0 || k <= lines; k++) {
        if (rate > 0) {
            next.tv_nsec += (long)(1000000000ULL / rate);
            while (next.tv_nsec >= 1000000000L) {
                next.tv_nsec -= 1000000000L;
                next.tv_sec++;
            }
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
                ;
        }
        used += format_line(batch + used, k, (size_t)size);
        if (per_line || used >= BATCH_BYTES) {
            if (write_all(fd, batch, used) == -1)
                goto write_error;
            used = 0;
        }
    }
    if (used > 0 && write_all(fd, batch, used) == -1)
        goto write_error;
    free(batch);
    return 0;

write_error:
    fprintf(stderr, "flood: write: %s\n", strerror(errno));
    free(batch);
    return 1;
}
