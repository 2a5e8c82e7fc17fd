/* killpoint: see killpoint.h. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "killpoint.h"

#define VARS 4 /* distinct variables the code names */

void killpoint(const char *var, const char *when)
{
    /* Points sit on hot paths (each spawn, each exit): the environment does not change
     * under us, so each variable is looked up once. */
    static struct {
        const char *var, *value;
    } seen[VARS];
    static int nseen;
    const char *v = NULL;
    int i;
    size_t n = strlen(when);

    for (i = 0; i < nseen && strcmp(seen[i].var, var) != 0; i++)
        ;
    if (i < nseen) {
        v = seen[i].value;
    } else {
        v = getenv(var);
        if (nseen < VARS) {
            seen[nseen].var = var;
            seen[nseen++].value = v;
        }
    }
    if (v != NULL && strncmp(v, when, n) == 0 && v[n] == ':' && unlink(v + n + 1) == 0)
        (void)raise(SIGKILL);
}
