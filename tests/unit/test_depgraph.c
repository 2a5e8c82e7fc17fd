/* Unit tests for the needs graph: cycles are found (self-loops, long rings, one among
 * acyclic branches) and reported in order; depths are right on chains, diamonds and a
 * 10,000-long chain (no recursion to overflow). */
#include <stdlib.h>
#include <string.h>

#include "../harness.h"
#include "depgraph.h"

TEST(acyclic_has_no_cycle_and_depths)
{
    struct depgraph g;
    size_t cycle[5];
    int depth[5];

    /* 0 needs 1 and 2; 1 and 2 need 3 (a diamond); 4 alone. */
    depgraph_init(&g, 5);
    depgraph_add(&g, 0, 1);
    depgraph_add(&g, 0, 2);
    depgraph_add(&g, 1, 3);
    depgraph_add(&g, 2, 3);
    depgraph_add(&g, 2, 3); /* a duplicate is ignored */
    CHECK_INT(g.nadj[2], 1);
    CHECK_INT(depgraph_find_cycle(&g, cycle), 0);
    CHECK_INT(depgraph_depths(&g, depth), 0);
    CHECK_INT(depth[0], 2);
    CHECK_INT(depth[1], 1);
    CHECK_INT(depth[2], 1);
    CHECK_INT(depth[3], 0);
    CHECK_INT(depth[4], 0);
    depgraph_free(&g);
}

TEST(self_loop)
{
    struct depgraph g;
    size_t cycle[2];
    int depth[2];

    depgraph_init(&g, 2);
    depgraph_add(&g, 1, 1);
    CHECK_INT(depgraph_find_cycle(&g, cycle), 1);
    CHECK_INT(cycle[0], 1);
    CHECK_INT(depgraph_depths(&g, depth), -1);
    depgraph_free(&g);
}

TEST(ring_reported_in_order)
{
    struct depgraph g;
    size_t cycle[6];

    /* 0 -> 1 (acyclic branch 1 -> 5); 2 -> 3 -> 4 -> 2 */
    depgraph_init(&g, 6);
    depgraph_add(&g, 0, 1);
    depgraph_add(&g, 1, 5);
    depgraph_add(&g, 0, 2);
    depgraph_add(&g, 2, 3);
    depgraph_add(&g, 3, 4);
    depgraph_add(&g, 4, 2);
    CHECK_INT(depgraph_find_cycle(&g, cycle), 3);
    CHECK_INT(cycle[0], 2);
    CHECK_INT(cycle[1], 3);
    CHECK_INT(cycle[2], 4);
    depgraph_free(&g);
}

TEST(long_chain_no_recursion)
{
    enum { N = 10000 };
    struct depgraph g;
    size_t *cycle = malloc(N * sizeof(*cycle));
    int *depth = malloc(N * sizeof(*depth));

    depgraph_init(&g, N);
    for (size_t i = 0; i + 1 < N; i++)
        depgraph_add(&g, i, i + 1);
    CHECK_INT(depgraph_find_cycle(&g, cycle), 0);
    CHECK_INT(depgraph_depths(&g, depth), 0);
    CHECK_INT(depth[0], N - 1);
    CHECK_INT(depth[N - 1], 0);
    depgraph_add(&g, N - 1, 0); /* close the ring */
    CHECK_INT(depgraph_find_cycle(&g, cycle), N);
    CHECK_INT(cycle[0], 0);
    CHECK_INT(cycle[N - 1], N - 1);
    depgraph_free(&g);
    free(cycle);
    free(depth);
}

HARNESS_MAIN()
