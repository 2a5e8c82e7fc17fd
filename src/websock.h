/* websock: the abstract unix socket address of tend-web's door into tend (see websock.c). */
#ifndef TEND_WEBSOCK_H
#define TEND_WEBSOCK_H

/* "@tend-web-" and 32 random hex digits, '@' standing for the leading NUL byte of an abstract
 * address. Chosen once per tend process, so reloads and restarts of tend-web keep it. */
const char *websock_address(void);
/* Takes the address of fd, tend-web's listening socket that a previous supervisor made (the
 * keeper held it), as this process's: a tend-web taken back keeps its door. 0, or -1 if fd
 * is not such a socket (nothing changes then). Before the first websock_address. */
int websock_adopt(int fd);

#endif
