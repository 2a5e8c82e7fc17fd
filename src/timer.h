/* timer: one min-heap of deadlines (CLOCK_MONOTONIC nanoseconds). Timers are embedded in
 * their owners; the heap stores pointers and each timer knows its heap slot, so arming,
 * re-arming and cancelling are O(log n). Pure data structure: the loop owns the timerfd. */
#ifndef TEND_TIMER_H
#define TEND_TIMER_H

#include <stddef.h>
#include <stdint.h>

struct timer;
typedef void timer_fn(struct timer *t, void *ctx);

struct timer {
    uint64_t deadline_ns;
    size_t slot;          /* index in the heap + 1; 0 when not armed */
    timer_fn *fn;
    void *ctx;
};

struct timer_heap {
    struct timer **items;
    size_t len, cap;
};

void timer_init(struct timer *t, timer_fn *fn, void *ctx);
/* Arms (or re-arms) t at deadline_ns. 0, or -1/ENOMEM. */
int timer_arm(struct timer_heap *h, struct timer *t, uint64_t deadline_ns);
void timer_cancel(struct timer_heap *h, struct timer *t);
static inline int timer_armed(const struct timer *t) { return t->slot != 0; }
/* The earliest timer, or NULL. */
struct timer *timer_peek(const struct timer_heap *h);
/* Removes and returns the earliest timer if its deadline is <= now_ns, else NULL. */
struct timer *timer_pop_due(struct timer_heap *h, uint64_t now_ns);
void timer_heap_free(struct timer_heap *h);

/* CLOCK_MONOTONIC now, in nanoseconds. */
uint64_t timer_now_ns(void);

#endif
