/* killpoint: see killpoint.h. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "killpoint.h"

void killpoint(const char *var, const char *when)
{
    const char *v = getenv(var);
    size_t n = strlen(when);

    if (v != NULL && strncmp(v, when, n) == 0 && v[n] == ':' && unlink(v + n + 1) == 0)
        (void)raise(SIGKILL);
}
