/* timer: binary min-heap of deadlines. Invariant: items[i]->slot == i + 1 for every armed
 * timer, and a parent's deadline is <= its children's. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "timer.h"

void timer_init(struct timer *t, timer_fn *fn, void *ctx)
{
    t->deadline_ns = 0;
    t->slot = 0;
    t->fn = fn;
    t->ctx = ctx;
}

static void place(struct timer_heap *h, size_t i, struct timer *t)
{
    h->items[i] = t;
    t->slot = i + 1;
}

static void sift_up(struct timer_heap *h, size_t i)
{
    struct timer *t = h->items[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->items[parent]->deadline_ns <= t->deadline_ns)
            break;
        place(h, i, h->items[parent]);
        i = parent;
    }
    place(h, i, t);
}

static void sift_down(struct timer_heap *h, size_t i)
{
    struct timer *t = h->items[i];

    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->len)
            break;
        if (child + 1 < h->len && h->items[child + 1]->deadline_ns < h->items[child]->deadline_ns)
            child++;
        if (t->deadline_ns <= h->items[child]->deadline_ns)
            break;
        place(h, i, h->items[child]);
        i = child;
    }
    place(h, i, t);
}

int timer_arm(struct timer_heap *h, struct timer *t, uint64_t deadline_ns)
{
    if (t->slot != 0) {
        size_t i = t->slot - 1;
        uint64_t old = t->deadline_ns;
        t->deadline_ns = deadline_ns;
        if (deadline_ns < old)
            sift_up(h, i);
        else
            sift_down(h, i);
        return 0;
    }
    if (h->len == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        struct timer **items = realloc(h->items, cap * sizeof(*items));
        if (items == NULL) {
            errno = ENOMEM;
            return -1;
        }
        h->items = items;
        h->cap = cap;
    }
    t->deadline_ns = deadline_ns;
    h->items[h->len] = t;
    t->slot = ++h->len;
    sift_up(h, h->len - 1);
    return 0;
}

void timer_cancel(struct timer_heap *h, struct timer *t)
{
    size_t i;
    struct timer *last;

    if (t->slot == 0)
        return;
    i = t->slot - 1;
    t->slot = 0;
    last = h->items[--h->len];
    if (last == t)
        return;
    h->items[i] = last;
    last->slot = i + 1;
    if (i > 0 && last->deadline_ns < h->items[(i - 1) / 2]->deadline_ns)
        sift_up(h, i);
    else
        sift_down(h, i);
}

struct timer *timer_peek(const struct timer_heap *h)
{
    return h->len ? h->items[0] : NULL;
}

struct timer *timer_pop_due(struct timer_heap *h, uint64_t now_ns)
{
    struct timer *t = timer_peek(h);

    if (t == NULL || t->deadline_ns > now_ns)
        return NULL;
    timer_cancel(h, t);
    return t;
}

void timer_heap_free(struct timer_heap *h)
{
    for (size_t i = 0; i < h->len; i++)
        h->items[i]->slot = 0;
    free(h->items);
    h->items = NULL;
    h->len = h->cap = 0;
}

uint64_t timer_now_ns(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail for CLOCK_MONOTONIC */
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
