/* depgraph: the "needs" relation between processes as a directed graph over indices 0..n-1,
 * an edge a -> b meaning "a needs b". Pure data and algorithms, no system call: config.c
 * checks a configuration with it (a cycle is an error) and unit tests drive it directly.
 * Traversals are iterative, so a 10,000-long chain does not exhaust the stack. */
#ifndef TEND_DEPGRAPH_H
#define TEND_DEPGRAPH_H

#include <stddef.h>

struct depgraph {
    size_t n;
    size_t **adj;  /* adj[a]: the nodes a needs, in the order added */
    size_t *nadj;
    size_t *cap;
};

void depgraph_init(struct depgraph *g, size_t n);
void depgraph_free(struct depgraph *g);
/* a needs b. A duplicate edge is ignored. */
void depgraph_add(struct depgraph *g, size_t a, size_t b);
/* A cycle, if there is one: its length k, with cycle[0] needing cycle[1] ... cycle[k-1]
 * needing cycle[0] (a self-loop has k = 1). 0 when the graph is acyclic. cycle has room for
 * g->n entries. */
size_t depgraph_find_cycle(const struct depgraph *g, size_t *cycle);
/* For an acyclic graph: depth[a] = 0 for a node that needs nothing, else 1 + the largest
 * depth among what it needs. 0, or -1 (nothing written) if there is a cycle. */
int depgraph_depths(const struct depgraph *g, int *depth);

#endif
