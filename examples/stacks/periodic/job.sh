#!/bin/sh
# The periodic job: here, it prunes *.tmp files older than a day from $SPOOL and says what
# it did. Whatever it prints goes to the log tend keeps for it.
set -eu
dir=${SPOOL:?SPOOL is not set}
mkdir -p "$dir"
n=$(find "$dir" -type f -name '*.tmp' -mtime +0 -print -delete | wc -l)
echo "$(date '+%F %T') pruned $n file(s) from $dir"
