#!/bin/sh
# An alert command for tend: posts the event as JSON to a webhook with curl (the article's
# SMS gateway would take the same shape). tend kills it after the alert's timeout=.
# [alert] command = /path/alert-webhook.sh https://hooks.example.net/T0KEN
url=${1:?usage: alert-webhook.sh URL}
esc() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }
body=$(printf '{"event":"%s","program":"%s","host":"%s","pid":"%s","exit":"%s","signal":"%s","reason":"%s","time":"%s","suppressed":"%s"}' \
    "$(esc "$TEND_EVENT")" "$(esc "$TEND_PROCESS")" "$(esc "$TEND_HOST")" "$(esc "$TEND_PID")" \
    "$(esc "$TEND_EXIT_STATUS")" "$(esc "$TEND_SIGNAL")" "$(esc "$TEND_REASON")" \
    "$(esc "$TEND_TIME")" "$(esc "$TEND_SUPPRESSED")")
exec curl --silent --show-error --max-time 10 -H 'Content-Type: application/json' \
    --data "$body" "$url"
