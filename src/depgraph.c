/* depgraph: the needs graph (see depgraph.h). Depth-first search with an explicit stack and
 * the usual three colours: white (not seen), grey (on the current path), black (done). An
 * edge to a grey node closes a cycle, which is the part of the path from that node on. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "depgraph.h"
#include "util/str.h"

enum { WHITE, GREY, BLACK };

void depgraph_init(struct depgraph *g, size_t n)
{
    g->n = n;
    g->adj = xcalloc(n ? n : 1, sizeof(*g->adj));
    g->nadj = xcalloc(n ? n : 1, sizeof(*g->nadj));
    g->cap = xcalloc(n ? n : 1, sizeof(*g->cap));
}

void depgraph_free(struct depgraph *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->adj[i]);
    free(g->adj);
    free(g->nadj);
    free(g->cap);
    memset(g, 0, sizeof(*g));
}

void depgraph_add(struct depgraph *g, size_t a, size_t b)
{
    for (size_t i = 0; i < g->nadj[a]; i++) {
        if (g->adj[a][i] == b)
            return;
    }
    if (g->nadj[a] == g->cap[a]) {
        g->cap[a] = g->cap[a] ? g->cap[a] * 2 : 4;
        g->adj[a] = xrealloc(g->adj[a], g->cap[a] * sizeof(**g->adj));
    }
    g->adj[a][g->nadj[a]++] = b;
}

/* One DFS over everything. With depth != NULL, fills depths in post-order; with cycle !=
 * NULL, stops at the first cycle. Returns the cycle's length, or 0. */
static size_t walk(const struct depgraph *g, size_t *cycle, int *depth)
{
    unsigned char *colour = xcalloc(g->n ? g->n : 1, 1);
    size_t *stack = xmalloc((g->n ? g->n : 1) * sizeof(*stack));
    size_t *next = xcalloc(g->n ? g->n : 1, sizeof(*next));
    size_t found = 0;

    for (size_t root = 0; root < g->n && found == 0; root++) {
        size_t top = 0;
        if (colour[root] != WHITE)
            continue;
        stack[top++] = root;
        colour[root] = GREY;
        while (top > 0 && found == 0) {
            size_t a = stack[top - 1];
            if (next[a] < g->nadj[a]) {
                size_t b = g->adj[a][next[a]++];
                if (colour[b] == WHITE) {
                    colour[b] = GREY;
                    stack[top++] = b;
                } else if (colour[b] == GREY) {
                    size_t from = top;
                    while (from > 0 && stack[from - 1] != b)
                        from--;
                    from--; /* b is on the path: it is grey */
                    found = top - from;
                    if (cycle != NULL)
                        memcpy(cycle, stack + from, found * sizeof(*cycle));
                }
                continue;
            }
            colour[a] = BLACK;
            if (depth != NULL) {
                int d = 0;
                for (size_t i = 0; i < g->nadj[a]; i++) {
                    if (depth[g->adj[a][i]] + 1 > d)
                        d = depth[g->adj[a][i]] + 1;
                }
                depth[a] = d;
            }
            top--;
        }
    }
    free(colour);
    free(stack);
    free(next);
    return found;
}

size_t depgraph_find_cycle(const struct depgraph *g, size_t *cycle)
{
    return walk(g, cycle, NULL);
}

int depgraph_depths(const struct depgraph *g, int *depth)
{
    int *tmp = xcalloc(g->n ? g->n : 1, sizeof(*tmp));

    if (walk(g, NULL, tmp) != 0) {
        free(tmp);
        return -1;
    }
    memcpy(depth, tmp, g->n * sizeof(*depth));
    free(tmp);
    return 0;
}
