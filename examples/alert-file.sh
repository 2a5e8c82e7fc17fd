#!/bin/sh
# An alert command for tend: appends the event's one-line summary (tend writes it on stdin)
# and its facts (TEND_* environment variables) to the file named by $1.
# [alert] command = /path/alert-file.sh /var/log/tend-alerts.log
out=${1:?usage: alert-file.sh FILE}
{
    cat
    env | grep '^TEND_' | sort | sed 's/^/    /'
} >>"$out"
