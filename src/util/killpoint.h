/* killpoint: where the resilience tests kill the supervisor at one exact instant, as a
 * kill -9 from outside could but only by luck. A point named WHEN fires when the environment
 * variable VAR is "WHEN:FILE" and FILE exists: FILE is removed (so a restarted supervisor,
 * which inherits the variable, goes on) and the process gets SIGKILL. Without the variable
 * a point costs a lookup in a table of the variables seen (the environment is read once). */
#ifndef TEND_UTIL_KILLPOINT_H
#define TEND_UTIL_KILLPOINT_H

void killpoint(const char *var, const char *when);

#endif
