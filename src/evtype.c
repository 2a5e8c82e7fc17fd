/* evtype: supervisord's event type names and their hierarchy (see evtype.h). */
#include <string.h>

#include "evtype.h"
#include "keys.h"
#include "util/str.h"

static const char *const names[EVT_COUNT] = {
    [EVT_PROCESS_STATE_STOPPED] = "PROCESS_STATE_STOPPED",
    [EVT_PROCESS_STATE_STARTING] = "PROCESS_STATE_STARTING",
    [EVT_PROCESS_STATE_RUNNING] = "PROCESS_STATE_RUNNING",
    [EVT_PROCESS_STATE_BACKOFF] = "PROCESS_STATE_BACKOFF",
    [EVT_PROCESS_STATE_STOPPING] = "PROCESS_STATE_STOPPING",
    [EVT_PROCESS_STATE_EXITED] = "PROCESS_STATE_EXITED",
    [EVT_PROCESS_STATE_FATAL] = "PROCESS_STATE_FATAL",
    [EVT_PROCESS_STATE_UNKNOWN] = "PROCESS_STATE_UNKNOWN",
    [EVT_TICK_5] = "TICK_5",
    [EVT_TICK_60] = "TICK_60",
    [EVT_TICK_3600] = "TICK_3600",
    [EVT_PROCESS_LOG_STDOUT] = "PROCESS_LOG_STDOUT",
    [EVT_PROCESS_LOG_STDERR] = "PROCESS_LOG_STDERR",
    [EVT_PROCESS_COMMUNICATION_STDOUT] = "PROCESS_COMMUNICATION_STDOUT",
    [EVT_PROCESS_COMMUNICATION_STDERR] = "PROCESS_COMMUNICATION_STDERR",
    [EVT_SUPERVISOR_STATE_CHANGE_RUNNING] = "SUPERVISOR_STATE_CHANGE_RUNNING",
    [EVT_SUPERVISOR_STATE_CHANGE_STOPPING] = "SUPERVISOR_STATE_CHANGE_STOPPING",
    [EVT_REMOTE_COMMUNICATION] = "REMOTE_COMMUNICATION",
    [EVT_PROCESS_GROUP_ADDED] = "PROCESS_GROUP_ADDED",
    [EVT_PROCESS_GROUP_REMOVED] = "PROCESS_GROUP_REMOVED",
};

#define RANGE(a, b) (((EVT_MASK(b) << 1) - 1) & ~(EVT_MASK(a) - 1))

/* Parent types: a subscription to one is a subscription to each of its children. */
static const struct {
    const char *name;
    uint32_t mask;
} parents[] = {
    {"EVENT", RANGE(0, EVT_COUNT - 1)},
    {"PROCESS_STATE", RANGE(EVT_PROCESS_STATE_STOPPED, EVT_PROCESS_STATE_UNKNOWN)},
    {"TICK", EVT_TICKS},
    {"PROCESS_LOG", EVT_MASK(EVT_PROCESS_LOG_STDOUT) | EVT_MASK(EVT_PROCESS_LOG_STDERR)},
    {"PROCESS_COMMUNICATION",
     EVT_MASK(EVT_PROCESS_COMMUNICATION_STDOUT) | EVT_MASK(EVT_PROCESS_COMMUNICATION_STDERR)},
    {"SUPERVISOR_STATE_CHANGE", EVT_MASK(EVT_SUPERVISOR_STATE_CHANGE_RUNNING) |
                                    EVT_MASK(EVT_SUPERVISOR_STATE_CHANGE_STOPPING)},
    {"PROCESS_GROUP", EVT_MASK(EVT_PROCESS_GROUP_ADDED) | EVT_MASK(EVT_PROCESS_GROUP_REMOVED)},
};

const char *evtype_name(enum evtype t)
{
    return (unsigned)t < EVT_COUNT ? names[t] : "EVENT";
}

uint32_t evtype_mask(const char *name)
{
    for (int t = 0; t < EVT_COUNT; t++) {
        if (strcmp(names[t], name) == 0)
            return EVT_MASK(t);
    }
    for (size_t i = 0; i < sizeof parents / sizeof parents[0]; i++) {
        if (strcmp(parents[i].name, name) == 0)
            return parents[i].mask;
    }
    return 0;
}

const char *evtype_nearest(const char *name)
{
    const char *best = NULL;
    size_t best_d = 0;
    if (strlen(name) > 64)
        return NULL; /* nobody types a name that long by mistake; keeps the cost bounded */
    for (int t = 0; t < EVT_COUNT; t++) {
        size_t d = str_levenshtein(name, names[t]);
        if (best == NULL || d < best_d) {
            best = names[t];
            best_d = d;
        }
    }
    for (size_t i = 0; i < sizeof parents / sizeof parents[0]; i++) {
        size_t d = str_levenshtein(name, parents[i].name);
        if (d < best_d) {
            best = parents[i].name;
            best_d = d;
        }
    }
    return best != NULL && keys_is_close(name, best_d) ? best : NULL;
}
