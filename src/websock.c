/* websock: the address of the socket on which tend serves its HTTP front, tend-web. It is
 * in the abstract namespace, because tend-web runs as another user who cannot enter the
 * control socket's directory; it is random, so that nobody can take the name first. Being
 * reachable is not being allowed: control.c serves only the process it started as tend-web.
 * config.c passes the address to tend-web in its environment. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "timer.h"
#include "websock.h"

#define PREFIX "tend-web-"

static char addr[64];

int websock_adopt(int fd)
{
    struct sockaddr_un un;
    socklen_t len = sizeof(un);
    int type = 0, listening = 0;
    socklen_t olen = sizeof(int);
    size_t n;

    memset(&un, 0, sizeof(un));
    if (getsockname(fd, (struct sockaddr *)&un, &len) == -1 || un.sun_family != AF_UNIX ||
        len <= offsetof(struct sockaddr_un, sun_path) + 1 || un.sun_path[0] != '\0' ||
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &olen) == -1 || type != SOCK_STREAM ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &olen) == -1 || !listening)
        return -1;
    n = len - offsetof(struct sockaddr_un, sun_path) - 1; /* the name after the NUL */
    if (n + 2 > sizeof(addr) || n <= strlen(PREFIX) ||
        memcmp(un.sun_path + 1, PREFIX, strlen(PREFIX)) != 0 ||
        memchr(un.sun_path + 1, '\0', n) != NULL)
        return -1; /* not one of ours: the control socket, or something else entirely */
    addr[0] = '@';
    memcpy(addr + 1, un.sun_path + 1, n);
    addr[n + 1] = '\0';
    return 0;
}

const char *websock_address(void)
{
    if (addr[0] == '\0') {
        unsigned long long r[2] = {0, 0};
        /* Unpredictable, so nobody can squat the name before tend binds it. Failing
         * getrandom (very old kernel) falls back to pid and time: only a squatter could
         * then deny the front its socket, never pass for it (the peer check does that). */
        if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
            r[0] = (unsigned long long)getpid() << 32 ^ (unsigned long long)time(NULL);
            r[1] = timer_now_ns();
        }
        snprintf(addr, sizeof addr, "@" PREFIX "%016llx%016llx", r[0], r[1]);
    }
    return addr;
}
