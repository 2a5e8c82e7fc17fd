/* Unit tests for the timer min-heap: ordering, re-arming, cancelling from any position, and
 * the structural invariant (items[i]->slot == i + 1, parent deadline <= child deadline)
 * checked after every operation. Random inputs come from a fixed-seed xorshift generator, so
 * every run sees the same sequence. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "../harness.h"
#include "timer.h"

#define BIG_N 10000

/* xorshift64*: deterministic across libcs, unlike rand(). */
static uint64_t rng_state;

static void rng_seed(uint64_t seed)
{
    rng_state = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

/* Deadlines drawn from a small range so that ties are common (ties are where sloppy
 * comparisons go wrong); never 0. */
static uint64_t rng_deadline(uint64_t range)
{
    return 1 + rng_next() % range;
}

/* The heap invariant. Reports the first violation and returns false; true when sound. */
static bool heap_ok(const struct timer_heap *h)
{
    if (h->len > h->cap) {
        fprintf(stderr, "  heap: len %zu > cap %zu\n", h->len, h->cap);
        return false;
    }
    for (size_t i = 0; i < h->len; i++) {
        if (h->items[i] == NULL) {
            fprintf(stderr, "  heap: items[%zu] is NULL\n", i);
            return false;
        }
        if (h->items[i]->slot != i + 1) {
            fprintf(stderr, "  heap: items[%zu]->slot == %zu\n", i, h->items[i]->slot);
            return false;
        }
        if (i > 0 && h->items[(i - 1) / 2]->deadline_ns > h->items[i]->deadline_ns) {
            fprintf(stderr, "  heap: parent %zu (%llu) > child %zu (%llu)\n", (i - 1) / 2,
                    (unsigned long long)h->items[(i - 1) / 2]->deadline_ns, i,
                    (unsigned long long)h->items[i]->deadline_ns);
            return false;
        }
    }
    return true;
}

/* The heap invariant plus agreement with the owner's view: exactly the armed timers of ts
 * (slot != 0) are in the heap, each at its slot. */
static bool all_ok(const struct timer_heap *h, const struct timer *ts, size_t n)
{
    size_t armed = 0;

    if (!heap_ok(h))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (ts[i].slot == 0)
            continue;
        armed++;
        if (ts[i].slot > h->len || h->items[ts[i].slot - 1] != &ts[i]) {
            fprintf(stderr, "  heap: timer %zu claims slot %zu but is not there\n", i,
                    ts[i].slot);
            return false;
        }
    }
    if (armed != h->len) {
        fprintf(stderr, "  heap: %zu timers armed, heap holds %zu\n", armed, h->len);
        return false;
    }
    return true;
}

static void fired(struct timer *t, void *ctx)
{
    (void)t;
    (void)ctx;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

/* Pops everything due at UINT64_MAX and checks the deadlines come out as `want` (sorted),
 * each popped timer disarmed, and the heap sound after every pop. */
static void drain_and_compare(struct timer_heap *h, struct timer *ts, size_t n,
                              const uint64_t *want, size_t nwant)
{
    size_t got = 0;
    struct timer *t;
    uint64_t prev = 0;
    bool ok = true;

    while ((t = timer_pop_due(h, UINT64_MAX)) != NULL) {
        if (t->slot != 0 || t->deadline_ns < prev)
            ok = false;
        if (got < nwant && t->deadline_ns != want[got])
            ok = false;
        prev = t->deadline_ns;
        got++;
        if (!all_ok(h, ts, n))
            ok = false;
    }
    CHECK(ok);
    CHECK_INT(got, nwant);
    CHECK_INT(h->len, 0);
    CHECK(timer_peek(h) == NULL);
}

TEST(init_sets_fields)
{
    struct timer t;
    int ctx;

    memset(&t, 0xff, sizeof(t));
    timer_init(&t, fired, &ctx);
    CHECK_INT(t.deadline_ns, 0);
    CHECK_INT(t.slot, 0);
    CHECK(t.fn == fired);
    CHECK(t.ctx == &ctx);
    CHECK(!timer_armed(&t));
}

TEST(empty_heap)
{
    struct timer_heap h = {0};
    struct timer t;

    timer_init(&t, fired, NULL);
    CHECK(timer_peek(&h) == NULL);
    CHECK(timer_pop_due(&h, 0) == NULL);
    CHECK(timer_pop_due(&h, UINT64_MAX) == NULL);
    timer_cancel(&h, &t); /* not armed: nothing to do */
    CHECK_INT(h.len, 0);
    CHECK_INT(t.slot, 0);
    timer_heap_free(&h);
    timer_heap_free(&h); /* idempotent */
    CHECK(h.items == NULL);
}

TEST(single_timer_due_boundary)
{
    struct timer_heap h = {0};
    struct timer t;

    timer_init(&t, fired, NULL);
    CHECK_INT(timer_arm(&h, &t, 1000), 0);
    CHECK(timer_armed(&t));
    CHECK_INT(t.slot, 1);
    CHECK(timer_peek(&h) == &t);
    CHECK(timer_pop_due(&h, 999) == NULL); /* not yet */
    CHECK(timer_armed(&t));
    CHECK(timer_pop_due(&h, 1000) == &t); /* due exactly at its deadline */
    CHECK(!timer_armed(&t));
    CHECK(timer_pop_due(&h, 1000) == NULL);
    /* A popped timer can be armed again. */
    CHECK_INT(timer_arm(&h, &t, 5), 0);
    CHECK(timer_pop_due(&h, 5) == &t);
    timer_heap_free(&h);
}

TEST(pop_due_stops_at_first_future_deadline)
{
    struct timer_heap h = {0};
    struct timer ts[5];
    const uint64_t d[5] = {50, 10, 40, 20, 30};
    struct timer *t;

    for (int i = 0; i < 5; i++)
        timer_init(&ts[i], fired, NULL);
    for (int i = 0; i < 5; i++) {
        CHECK_INT(timer_arm(&h, &ts[i], d[i]), 0);
        CHECK(all_ok(&h, ts, 5));
    }
    t = timer_pop_due(&h, 25);
    CHECK(t == &ts[1]);
    t = timer_pop_due(&h, 25);
    CHECK(t == &ts[3]);
    CHECK(timer_pop_due(&h, 25) == NULL);
    CHECK_INT(h.len, 3);
    CHECK(timer_peek(&h) == &ts[4]);
    CHECK(all_ok(&h, ts, 5));
    timer_heap_free(&h);
}

TEST(many_random_pop_in_order)
{
    struct timer_heap h = {0};
    struct timer *ts = calloc(BIG_N, sizeof(*ts));
    uint64_t *want = calloc(BIG_N, sizeof(*want));
    bool ok = true;

    rng_seed(42);
    for (size_t i = 0; i < BIG_N; i++) {
        timer_init(&ts[i], fired, &ts[i]);
        want[i] = rng_deadline(1000); /* ~10 timers per deadline value */
        if (timer_arm(&h, &ts[i], want[i]) != 0)
            ok = false;
        if (!all_ok(&h, ts, BIG_N))
            ok = false;
    }
    CHECK(ok);
    CHECK_INT(h.len, BIG_N);
    qsort(want, BIG_N, sizeof(*want), cmp_u64);
    CHECK(timer_peek(&h)->deadline_ns == want[0]);
    drain_and_compare(&h, ts, BIG_N, want, BIG_N);
    for (size_t i = 0; i < BIG_N; i++)
        ok &= ts[i].slot == 0;
    CHECK(ok);
    timer_heap_free(&h);
    free(ts);
    free(want);
}

TEST(many_wide_range_pop_in_order)
{
    struct timer_heap h = {0};
    struct timer *ts = calloc(BIG_N, sizeof(*ts));
    uint64_t *want = calloc(BIG_N, sizeof(*want));
    bool ok = true;

    rng_seed(7);
    for (size_t i = 0; i < BIG_N; i++) {
        timer_init(&ts[i], fired, NULL);
        want[i] = rng_deadline(UINT64_MAX - 1); /* the whole range, including huge values */
        ok &= timer_arm(&h, &ts[i], want[i]) == 0;
    }
    CHECK(ok);
    CHECK(all_ok(&h, ts, BIG_N));
    qsort(want, BIG_N, sizeof(*want), cmp_u64);
    drain_and_compare(&h, ts, BIG_N, want, BIG_N);
    timer_heap_free(&h);
    free(ts);
    free(want);
}

TEST(sorted_and_reverse_insertions)
{
    struct timer_heap h = {0};
    struct timer *ts = calloc(BIG_N, sizeof(*ts));
    uint64_t *want = calloc(BIG_N, sizeof(*want));
    bool ok = true;

    /* Ascending: no sift at all. Then descending: every insert sifts to the root. */
    for (size_t i = 0; i < BIG_N / 2; i++) {
        timer_init(&ts[i], fired, NULL);
        want[i] = BIG_N + i; /* all later than the second half */
        ok &= timer_arm(&h, &ts[i], want[i]) == 0;
    }
    for (size_t i = BIG_N / 2; i < BIG_N; i++) {
        timer_init(&ts[i], fired, NULL);
        want[i] = (uint64_t)(BIG_N - i);
        ok &= timer_arm(&h, &ts[i], want[i]) == 0;
        ok &= timer_peek(&h) == &ts[i];
    }
    CHECK(ok);
    CHECK(all_ok(&h, ts, BIG_N));
    qsort(want, BIG_N, sizeof(*want), cmp_u64);
    drain_and_compare(&h, ts, BIG_N, want, BIG_N);
    timer_heap_free(&h);
    free(ts);
    free(want);
}

TEST(rearm_earlier_and_later)
{
    enum { N = 2000 };
    struct timer_heap h = {0};
    struct timer *ts = calloc(N, sizeof(*ts));
    uint64_t *want = calloc(N, sizeof(*want));
    bool ok = true;

    rng_seed(1234);
    for (size_t i = 0; i < N; i++) {
        timer_init(&ts[i], fired, NULL);
        ok &= timer_arm(&h, &ts[i], rng_deadline(100000)) == 0;
    }
    CHECK(all_ok(&h, ts, N));
    /* 5 * N re-arms: to earlier, to later, to the same deadline, at random. */
    for (size_t k = 0; k < 5 * N; k++) {
        struct timer *t = &ts[rng_next() % N];
        uint64_t d;
        switch (rng_next() % 3) {
        case 0: d = t->deadline_ns > 1 ? 1 + rng_next() % (t->deadline_ns - 1) : 1; break;
        case 1: d = t->deadline_ns + 1 + rng_next() % 100000; break;
        default: d = t->deadline_ns; break;
        }
        ok &= timer_arm(&h, t, d) == 0;
        ok &= t->deadline_ns == d && timer_armed(t);
        if (!all_ok(&h, ts, N))
            ok = false;
    }
    CHECK(ok);
    CHECK_INT(h.len, N); /* re-arming never adds a second entry */
    for (size_t i = 0; i < N; i++)
        want[i] = ts[i].deadline_ns;
    qsort(want, N, sizeof(*want), cmp_u64);
    drain_and_compare(&h, ts, N, want, N);
    timer_heap_free(&h);
    free(ts);
    free(want);
}

TEST(rearm_root_later_and_leaf_to_root)
{
    struct timer_heap h = {0};
    struct timer ts[7];

    for (int i = 0; i < 7; i++) {
        timer_init(&ts[i], fired, NULL);
        CHECK_INT(timer_arm(&h, &ts[i], (uint64_t)(10 * (i + 1))), 0);
    }
    CHECK(timer_peek(&h) == &ts[0]);
    CHECK_INT(timer_arm(&h, &ts[0], 1000), 0); /* the root becomes the latest */
    CHECK(all_ok(&h, ts, 7));
    CHECK(timer_peek(&h) == &ts[1]);
    CHECK_INT(timer_arm(&h, &ts[6], 1), 0); /* the last leaf becomes the earliest */
    CHECK(all_ok(&h, ts, 7));
    CHECK(timer_peek(&h) == &ts[6]);
    CHECK(timer_pop_due(&h, UINT64_MAX) == &ts[6]);
    CHECK(timer_pop_due(&h, UINT64_MAX) == &ts[1]);
    CHECK(timer_pop_due(&h, UINT64_MAX) == &ts[2]);
    CHECK(timer_pop_due(&h, UINT64_MAX) == &ts[3]);
    CHECK(timer_pop_due(&h, UINT64_MAX) == &ts[4]);
    CHECK(timer_pop_due(&h, UINT64_MAX) == &ts[5]);
    CHECK(timer_pop_due(&h, UINT64_MAX) == &ts[0]);
    CHECK(timer_pop_due(&h, UINT64_MAX) == NULL);
    timer_heap_free(&h);
}

TEST(cancel_first_last_middle)
{
    enum { N = 1000 };
    struct timer_heap h = {0};
    struct timer *ts = calloc(N, sizeof(*ts));
    uint64_t *want = calloc(N, sizeof(*want));
    size_t nwant = 0;
    struct timer *first, *last, *mid;

    rng_seed(99);
    for (size_t i = 0; i < N; i++) {
        timer_init(&ts[i], fired, NULL);
        CHECK_INT(timer_arm(&h, &ts[i], rng_deadline(5000)), 0);
    }
    CHECK(all_ok(&h, ts, N));

    first = h.items[0];
    timer_cancel(&h, first);
    CHECK(!timer_armed(first));
    CHECK(all_ok(&h, ts, N));
    CHECK_INT(h.len, N - 1);

    last = h.items[h.len - 1];
    timer_cancel(&h, last);
    CHECK(!timer_armed(last));
    CHECK(all_ok(&h, ts, N));
    CHECK_INT(h.len, N - 2);

    mid = h.items[h.len / 2];
    timer_cancel(&h, mid);
    CHECK(!timer_armed(mid));
    CHECK(all_ok(&h, ts, N));
    CHECK_INT(h.len, N - 3);

    /* Cancelling again is a no-op. */
    timer_cancel(&h, mid);
    timer_cancel(&h, first);
    CHECK_INT(h.len, N - 3);
    CHECK(all_ok(&h, ts, N));

    /* Every heap position, cancelled in turn, with the heap checked after each. */
    for (size_t k = 0; k < 300; k++) {
        struct timer *t = h.items[rng_next() % h.len];
        timer_cancel(&h, t);
        CHECK(!timer_armed(t));
        if (!all_ok(&h, ts, N)) {
            CHECK(false);
            break;
        }
    }
    for (size_t i = 0; i < N; i++) {
        if (timer_armed(&ts[i]))
            want[nwant++] = ts[i].deadline_ns;
    }
    CHECK_INT(nwant, N - 303);
    qsort(want, nwant, sizeof(*want), cmp_u64);
    drain_and_compare(&h, ts, N, want, nwant);
    timer_heap_free(&h);
    free(ts);
    free(want);
}

/* The case where the last item, moved into the cancelled slot, is smaller than that slot's
 * parent and must sift up (not down). Layout built on purpose:
 *          1
 *      10      2
 *    11  12   3  4
 * Cancelling 11 moves 4 under 10: it must rise above 10. */
TEST(cancel_needs_sift_up)
{
    struct timer_heap h = {0};
    struct timer ts[7];
    const uint64_t d[7] = {1, 10, 2, 11, 12, 3, 4};

    for (int i = 0; i < 7; i++) {
        timer_init(&ts[i], fired, NULL);
        CHECK_INT(timer_arm(&h, &ts[i], d[i]), 0);
    }
    for (int i = 0; i < 7; i++)
        CHECK(h.items[i] == &ts[i]); /* the layout above */
    timer_cancel(&h, &ts[3]);
    CHECK(all_ok(&h, ts, 7));
    CHECK(h.items[1] == &ts[6]);
    CHECK(h.items[3] == &ts[1]);
    timer_heap_free(&h);
}

TEST(cancel_everything_random_order)
{
    struct timer_heap h = {0};
    struct timer *ts = calloc(BIG_N, sizeof(*ts));
    size_t *order = calloc(BIG_N, sizeof(*order));
    bool ok = true;

    rng_seed(2024);
    for (size_t i = 0; i < BIG_N; i++) {
        timer_init(&ts[i], fired, NULL);
        ok &= timer_arm(&h, &ts[i], rng_deadline(3000)) == 0;
        order[i] = i;
    }
    for (size_t i = BIG_N - 1; i > 0; i--) { /* Fisher-Yates */
        size_t j = (size_t)(rng_next() % (i + 1));
        size_t tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    for (size_t i = 0; i < BIG_N; i++) {
        timer_cancel(&h, &ts[order[i]]);
        ok &= !timer_armed(&ts[order[i]]) && h.len == BIG_N - 1 - i;
        if (!all_ok(&h, ts, BIG_N))
            ok = false;
    }
    CHECK(ok);
    CHECK_INT(h.len, 0);
    CHECK(timer_peek(&h) == NULL);
    timer_heap_free(&h);
    free(ts);
    free(order);
}

/* Arms, re-arms, cancels and pops interleaved at random, like a live supervisor. */
TEST(mixed_operations)
{
    enum { N = 500, OPS = 20000 };
    struct timer_heap h = {0};
    struct timer ts[N];
    uint64_t now = 0;
    bool ok = true;

    rng_seed(5);
    for (size_t i = 0; i < N; i++)
        timer_init(&ts[i], fired, NULL);
    for (size_t k = 0; k < OPS; k++) {
        struct timer *t = &ts[rng_next() % N];
        struct timer *p;
        switch (rng_next() % 4) {
        case 0:
        case 1: ok &= timer_arm(&h, t, now + rng_deadline(1000)) == 0; break;
        case 2: timer_cancel(&h, t); break;
        default:
            now += rng_next() % 50;
            while ((p = timer_pop_due(&h, now)) != NULL)
                ok &= p->deadline_ns <= now && !timer_armed(p);
            p = timer_peek(&h);
            ok &= (p == NULL || p->deadline_ns > now);
            break;
        }
        if (!all_ok(&h, ts, N)) {
            ok = false;
            break;
        }
    }
    CHECK(ok);
    timer_heap_free(&h);
}

TEST(heap_free_disarms)
{
    struct timer_heap h = {0};
    struct timer ts[100];
    bool ok = true;

    for (int i = 0; i < 100; i++) {
        timer_init(&ts[i], fired, NULL);
        CHECK_INT(timer_arm(&h, &ts[i], (uint64_t)(100 - i)), 0);
    }
    CHECK(h.cap >= 100);
    timer_heap_free(&h);
    for (int i = 0; i < 100; i++)
        ok &= !timer_armed(&ts[i]);
    CHECK(ok);
    CHECK(h.items == NULL);
    CHECK_INT(h.len, 0);
    CHECK_INT(h.cap, 0);
    /* The heap is reusable after free. */
    CHECK_INT(timer_arm(&h, &ts[0], 3), 0);
    CHECK(timer_peek(&h) == &ts[0]);
    timer_heap_free(&h);
}

TEST(now_is_monotonic)
{
    uint64_t a = timer_now_ns(), b;
    bool ok = a > 0;

    for (int i = 0; i < 1000; i++) {
        b = timer_now_ns();
        ok &= b >= a;
        a = b;
    }
    CHECK(ok);
}

HARNESS_MAIN()
