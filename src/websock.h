/* websock: the abstract unix socket address of tend-web's door into tend (see websock.c). */
#ifndef TEND_WEBSOCK_H
#define TEND_WEBSOCK_H

/* "@tend-web-" and 32 random hex digits, '@' standing for the leading NUL byte of an abstract
 * address. Chosen once per tend process, so reloads and restarts of tend-web keep it. */
const char *websock_address(void);

#endif
