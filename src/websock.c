/* websock: the address of the socket on which tend serves its HTTP front, tend-web. It is
 * in the abstract namespace, because tend-web runs as another user who cannot enter the
 * control socket's directory; it is random, so that nobody can take the name first. Being
 * reachable is not being allowed: control.c serves only the process it started as tend-web.
 * config.c passes the address to tend-web in its environment. */
#include <stdio.h>
#include <sys/random.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "timer.h"
#include "websock.h"

const char *websock_address(void)
{
    static char addr[64];

    if (addr[0] == '\0') {
        unsigned long long r[2] = {0, 0};
        /* Unpredictable, so nobody can squat the name before tend binds it. Failing
         * getrandom (very old kernel) falls back to pid and time: only a squatter could
         * then deny the front its socket, never pass for it (the peer check does that). */
        if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
            r[0] = (unsigned long long)getpid() << 32 ^ (unsigned long long)time(NULL);
            r[1] = timer_now_ns();
        }
        snprintf(addr, sizeof addr, "@tend-web-%016llx%016llx", r[0], r[1]);
    }
    return addr;
}
