/* reload: rereading the config and applying only the difference. A config with errors
 * changes nothing. Removed programs are stopped, then dropped; changed ones are stopped and
 * started again with their new settings; added ones start if autostart; a change of policy
 * only (autorestart, startretries, health, logs...) reaches the running process without
 * touching it. */
#ifndef TEND_RELOAD_H
#define TEND_RELOAD_H

#include "config.h"

struct supervisor;

/* Checks that cfg has nothing the supervisor itself cannot run (a health check on a host name
 * would need a blocking lookup). Appends errors to diags, in file and line order; returns -1
 * if there were any. */
int reload_validate(const struct config *cfg, struct config_diags *diags);

/* AUTO capture goes to this supervisor's own directory under childlogdir (see
 * logcap_instance_dir): t->childlogdir becomes it. Left as it is when that cannot be computed
 * (no home directory): logcap then says why the AUTO output is not kept. */
void reload_set_instance_logdir(struct tend_conf *t, const char *config_path);

struct fdbudget;
/* Applies a descriptor budget that fitted (fdbudget_fit): log files open at once, and the
 * capture pipes past the limit held in an io_uring (opened and handed to the keeper). */
void reload_apply_budget(struct supervisor *sup, const struct fdbudget *b);

/* Rereads the config and applies the difference. 0, or -1 with the config's diagnostics
 * in diags (nothing changed). `report` receives one line per change, e.g. "added web". */
int sup_reload(struct supervisor *sup, struct config_diags *diags,
               void (*report)(const char *line, void *ctx), void *ctx);

/* supervisord's reloadConfig (supervisorctl reread): rereads the config and reports, one line
 * per group, "added GROUP", "changed GROUP" or "removed GROUP" against what runs, then one
 * line per process of that config, "config<TAB>AUTOSTART<TAB>PRIORITY<TAB>GROUP_PRIORITY
 * <TAB>GROUP<TAB>NAME" (supervisorctl's avail); changes nothing. 0, or -1 with the config's
 * diagnostics in diags. */
int reload_reread(struct supervisor *sup, struct config_diags *diags,
                  void (*report)(const char *line, void *ctx), void *ctx);

#endif
