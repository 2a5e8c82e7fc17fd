/* evtype: the event types of supervisord's event listener protocol, by the names listeners
 * subscribe to in [eventlistener:x] events=. A name may be a concrete type
 * (PROCESS_STATE_EXITED) or a parent type that stands for all of its children (PROCESS_STATE,
 * TICK, PROCESS_LOG, SUPERVISOR_STATE_CHANGE, ..., and EVENT for every type). Pure tables, no
 * state: config.c parses events= with it and events.c names what it sends. */
#ifndef TEND_EVTYPE_H
#define TEND_EVTYPE_H

#include <stdint.h>

enum evtype {
    EVT_PROCESS_STATE_STOPPED,
    EVT_PROCESS_STATE_STARTING,
    EVT_PROCESS_STATE_RUNNING,
    EVT_PROCESS_STATE_BACKOFF,
    EVT_PROCESS_STATE_STOPPING,
    EVT_PROCESS_STATE_EXITED,
    EVT_PROCESS_STATE_FATAL,
    EVT_PROCESS_STATE_UNKNOWN,
    EVT_TICK_5,
    EVT_TICK_60,
    EVT_TICK_3600,
    EVT_PROCESS_LOG_STDOUT,
    EVT_PROCESS_LOG_STDERR,
    EVT_PROCESS_COMMUNICATION_STDOUT,
    EVT_PROCESS_COMMUNICATION_STDERR,
    EVT_SUPERVISOR_STATE_CHANGE_RUNNING,
    EVT_SUPERVISOR_STATE_CHANGE_STOPPING,
    EVT_REMOTE_COMMUNICATION,
    EVT_PROCESS_GROUP_ADDED,
    EVT_PROCESS_GROUP_REMOVED,
    EVT_COUNT
};

#define EVT_MASK(t) ((uint32_t)1 << (t))
#define EVT_TICKS (EVT_MASK(EVT_TICK_5) | EVT_MASK(EVT_TICK_60) | EVT_MASK(EVT_TICK_3600))

/* The concrete type's name as sent in a header's eventname: field. */
const char *evtype_name(enum evtype t);
/* The types a name subscribes to (case-sensitive, as supervisord reads it); 0 when the name
 * is not an event type. */
uint32_t evtype_mask(const char *name);
/* The nearest known name (for "did you mean"), or NULL. */
const char *evtype_nearest(const char *name);

#endif
