#!/usr/bin/env bash
# A real Prometheus (Debian's) scrapes tend-web's /metrics, with basic auth, and evaluates the
# example alerting rules of doc/tend-alerts.yml against it: the scrape is up, a process's
# tend_process_up reads 1 through PromQL, and a process that tend gave up on (FATAL) makes
# TendProcessDown pending. promtool checks the rule file first.
#
# Prometheus listens on a port picked at run time (e2e_httpd --free-port); it scrapes and
# evaluates every second. Waiting is by querying its API until the answer comes, with a
# deadline; nothing is timed.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/tendcase.bash"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)

# promql EXPR: the query's JSON answer.
promql() {
    curl -s --max-time 5 -G "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1"
}

# until_prom WHAT URL ERE: poll the Prometheus API (each answer is an event: its evaluation
# ticks every second) until the body matches ERE, for at most 60 s.
until_prom() {
    local what=$1 path=$2 ere=$3 i out
    for i in $(seq 1 120); do
        out=$(curl -s --max-time 5 "http://127.0.0.1:$PROM_PORT$path" || true)
        if printf '%s' "$out" | grep -Eq -- "$ere"; then return 0; fi
        # Wait for Prometheus' next evaluation: its rule evaluation writes to its log.
        "$H/waitfor" -t 0.5 --gone "$PROM_PID" >/dev/null 2>&1 && fail "prometheus exited: $(tail -n 5 "$T/prom.log")"
    done
    fail "$what: Prometheus never answered /$ere/ (last: $out)"
}

t_prometheus_scrapes_and_alerts() {
    setup
    chmod 711 "$T"
    mkdir -p "$T/san"
    chmod 1777 "$T/san"
    export ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$T/san/asan"
    export UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$T/san/ubsan"
    command -v prometheus >/dev/null || fail "prometheus is not installed (scripts/deps.sh)"
    promtool check rules "$ROOT/doc/tend-alerts.yml" || fail "promtool refused doc/tend-alerts.yml"

    write_conf identifier=e2e <<EOF2
[program:a]
command=/bin/sh -c 'while :; do echo a; sleep 1; done'
stopasgroup=true
startsecs=0
[program:broken]
command=$T/does-not-exist
startretries=0
[inet_http_server]
port=127.0.0.1:0
username=prom
password=scrape me
EOF2
    start_tend
    waitfor "$T/logs/e2e/tend-web-stdout.log" 'listening on http://' 20 >/dev/null || fail "no tend-web"
    local web
    web=$(grep -Eo '127\.0\.0\.1:[0-9]+' "$T/logs/e2e/tend-web-stdout.log" | tail -n 1)
    printf 'scrape me' >"$T/prom-pass"
    cat >"$T/prometheus.yml" <<EOF2
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $ROOT/doc/tend-alerts.yml
scrape_configs:
  - job_name: tend
    basic_auth:
      username: prom
      password_file: $T/prom-pass
    static_configs:
      - targets: ['$web']
EOF2
    PROM_PORT=$("$H/e2e_httpd" --free-port) || fail "no free port"
    prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom-data" \
        --web.listen-address="127.0.0.1:$PROM_PORT" >"$T/prom.log" 2>&1 &
    PROM_PID=$!
    TRACKED="$TRACKED $PROM_PID"
    until_prom "the scrape" "/api/v1/targets" '"health":"up"'
    until_prom "tend_process_up of a" \
        "/api/v1/query?query=tend_process_up%7Bname%3D%22a%22%7D" '"value":\[[0-9.]+,"1"\]'
    until_prom "broken is FATAL" \
        "/api/v1/query?query=tend_process_state%7Bname%3D%22broken%22%2Cstate%3D%22FATAL%22%7D" \
        '"value":\[[0-9.]+,"1"\]'
    until_prom "TendProcessDown for broken" "/api/v1/alerts" \
        '"alertname":"TendProcessDown".*"name":"broken".*"state":"pending"|"name":"broken".*"alertname":"TendProcessDown".*"state":"pending"'
    if promql 'tend_process_up{name="a"}' | grep -q '"value":\[[0-9.]*,"0"\]'; then fail "a reads down"; fi
    kill -TERM "$PROM_PID"
    "$H/waitfor" -t 30 --gone "$PROM_PID" || fail "prometheus did not exit"
    stop_tend
}

run_tests
