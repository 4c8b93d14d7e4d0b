#!/usr/bin/env bash
# The five Cuepoint services on the local infrastructure: for each, its migrations,
# then its api, worker and relay processes. Logs under .local/logs/, pids under .local/run/.
#
#   deploy/local/services.sh up       migrate and start every process that is not running
#   deploy/local/services.sh gateway  rewrite the gateway's configuration and reload it (or start it)
#   deploy/local/services.sh prometheus  rewrite Prometheus's configuration and reload it (or start it)
#   deploy/local/services.sh down     stop them
#   deploy/local/services.sh status   say what runs
#
# API ports: identity 8001, content 8002, assessment 8003, progress 8004, analytics 8005
# (override with CUEPOINT_<SERVICE>_PORT); the nginx gateway on 127.0.0.1:8080
# (CUEPOINT_GATEWAY_PORT) routes /api/<service>/… to them and serves the web client (web/dist) at /. analytics' worker runs as 2 replicas
# (CUEPOINT_ANALYTICS_WORKERS): client telemetry needs both. A failed step stops what this run started.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOCAL="${CUEPOINT_LOCAL_DIR:-$ROOT/.local}"
LOGS="$LOCAL/logs"
RUN="$LOCAL/run"
PY="$ROOT/.venv/bin/python"
SERVICES=(identity content assessment progress analytics)
PROCESSES=(api worker relay)
declare -A DEFAULT_PORT=([identity]=8001 [content]=8002 [assessment]=8003 [progress]=8004 [analytics]=8005)
# Worker replicas (Kafka consumers of one group share the partitions); one unless named here.
declare -A WORKERS=([analytics]="${CUEPOINT_ANALYTICS_WORKERS:-2}")
mkdir -p "$LOGS" "$RUN"
# Where the services find each other locally.
export STORAGE_EMULATOR_HOST="${STORAGE_EMULATOR_HOST:-http://127.0.0.1:${CUEPOINT_STORAGE_PORT:-9023}}"
# Browsers reach storage through the gateway (see gateway_config): content rewrites the URLs it hands out.
# Links in emails (invitations, resets) point at the gateway on its configured port.
export CUEPOINT_PUBLIC_BASE_URL="${CUEPOINT_PUBLIC_BASE_URL:-http://127.0.0.1:${CUEPOINT_GATEWAY_PORT:-8080}}"
export CUEPOINT_STORAGE_PUBLIC_URL="${CUEPOINT_STORAGE_PUBLIC_URL:-http://127.0.0.1:${CUEPOINT_GATEWAY_PORT:-8080}/storage}"
export NO_GCE_CHECK="${NO_GCE_CHECK:-True}"  # local runs are never on GCE: no metadata-server probe
export CUEPOINT_JWKS_URL="${CUEPOINT_JWKS_URL:-http://127.0.0.1:${CUEPOINT_IDENTITY_PORT:-8001}/.well-known/jwks.json}"

# shellcheck source=../lib.sh
source "$ROOT/deploy/lib.sh"
port_of() { local var="CUEPOINT_${1^^}_PORT"; echo "${!var:-${DEFAULT_PORT[$1]}}"; }

STARTED=()
on_failure() { # a failed step stops what this run started (lib.sh's fail calls it)
  local pidfile
  for pidfile in "${STARTED[@]}"; do stop_pidfile "$pidfile"; done
}

stop_pidfile() { stop_process "$1" TERM 100; }

replicas() { # replicas SERVICE PROCESS: the instance names of a process ("worker", "worker-2", …)
  local count=1 i
  [ "$2" = worker ] && count="${WORKERS[$1]:-1}"
  echo "$2"
  for ((i = 2; i <= count; i++)); do echo "$2-$i"; done
}

start_process() { # start_process SERVICE PROCESS [INSTANCE]
  local service="$1" process="$2" instance="${3:-$2}"
  local pidfile="$RUN/$1-$instance.pid" log="$LOGS/$1-$instance.log"
  if pid_alive "$pidfile"; then return; fi
  local args=("$process")
  if [ "$process" = api ]; then
    local port; port="$(port_of "$service")"
    port_open "$port" && fail "port $port for the $service API is taken by another process (set CUEPOINT_${service^^}_PORT)" ""
    args+=(--port "$port")
  fi
  [ "$process" = api ] || local -x CUEPOINT_METRICS_PORT="$(metrics_port_of "$service" "$instance")"
  # Under a supervisor (its pid in the pid file; the process's own in <pidfile>.child), as compose's
  # restart policy or Kubernetes would: a process that dies is started again, not left dead.
  (trap '' HUP; supervise "$pidfile.child" "$log" "$PY" -m "cuepoint.$service" "${args[@]}") >/dev/null 2>&1 </dev/null &
  echo $! >"$pidfile"
  STARTED+=("$pidfile")
}

# supervise CHILD_PIDFILE LOG COMMAND...: runs COMMAND (output to LOG) and starts it again whenever it
# exits, after 1 s, then 2, 4 … up to 30 s while it keeps dying (back to 1 s once it ran for a minute).
# TERM or INT stops it: the supervisor passes TERM on, waits for the command and exits without restarting.
supervise() {
  set +e
  local child_pidfile="$1" log="$2" child=0 delay=1 began status
  shift 2
  trap 'if [ "$child" -gt 0 ]; then kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; fi; rm -f "$child_pidfile"; exit 0' TERM INT
  while true; do
    began=$SECONDS
    "$@" >>"$log" 2>&1 </dev/null &
    child=$!
    echo "$child" >"$child_pidfile"
    wait "$child"
    status=$?
    child=0
    ((SECONDS - began >= 60)) && delay=1
    printf '%s supervisor: exited with status %s; starting it again in %s s\n' "$(date -u +%FT%TZ)" "$status" "$delay" >>"$log"
    sleep "$delay" &
    wait $!
    delay=$((delay * 2 > 30 ? 30 : delay * 2))
  done
}

wait_ready() { # wait_ready SERVICE
  local service="$1" port i
  port="$(port_of "$service")"
  for ((i = 0; i < 300; i++)); do
    if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then return 0; fi
    pid_alive "$RUN/$service-api.pid" || fail "the $service API exited" "$LOGS/$service-api.log"
    sleep 0.1
  done
  fail "the $service API did not become ready on port $port" "$LOGS/$service-api.log"
}

up() {
  [ -x "$PY" ] || fail "the Python environment is missing: run 'make deps'" ""
  say "migrating databases"
  local pids=() service
  for service in "${SERVICES[@]}"; do  # in parallel: each is its own schema and lock
    "$PY" -m "cuepoint.$service" migrate >"$LOGS/migrate-$service.log" 2>&1 &
    pids+=($!)
  done
  local i
  for i in "${!SERVICES[@]}"; do
    wait "${pids[$i]}" || fail "migrating ${SERVICES[$i]}" "$LOGS/migrate-${SERVICES[$i]}.log"
  done
  ok "${SERVICES[*]} at head"
  say "starting services"
  local instance
  for service in "${SERVICES[@]}"; do
    for process in "${PROCESSES[@]}"; do
      for instance in $(replicas "$service" "$process"); do start_process "$service" "$process" "$instance"; done
    done
  done
  for service in "${SERVICES[@]}"; do
    wait_ready "$service"
    for instance in $(replicas "$service" worker) relay; do
      pid_alive "$RUN/$service-$instance.pid" || fail "the $service $instance exited" "$LOGS/$service-$instance.log"
    done
    local workers; workers="$(replicas "$service" worker | wc -l)"
    ok "$service: api http://127.0.0.1:$(port_of "$service") (docs /docs), worker$([ "$workers" -gt 1 ] && echo " ×$workers"), relay"
  done
  gateway_up
  prometheus_up
}

gateway_config() { # the nginx configuration: /api/<service>/x → 127.0.0.1:<port>/x
  local service
  # Every answer's security headers. nginx drops the server's add_header lines in a location that has
  # its own, so each location repeats them. (deploy/docker/gateway.conf says the same; keep them alike.)
  local headers; headers="$(gateway_headers "$(gateway_csp)")"
  cat <<CONF
worker_processes 1;
pid $RUN/gateway.pid;
error_log $LOGS/gateway-error.log warn;
# Every signed-in viewer holds an SSE stream: two connections through the gateway (in and out). At
# 1024 the gateway refused new viewers from about 500 on (bench/capacity.py: "worker_connections
# are not enough"); the descriptors for these are raised with them.
worker_rlimit_nofile 40000;
events { worker_connections 16384; }
http {
  access_log $LOGS/gateway-access.log;
  client_body_temp_path $LOCAL/gateway/body;
  proxy_temp_path $LOCAL/gateway/proxy;
  fastcgi_temp_path $LOCAL/gateway/fastcgi;
  uwsgi_temp_path $LOCAL/gateway/uwsgi;
  scgi_temp_path $LOCAL/gateway/scgi;
  server_tokens off;                # "Server: nginx", no version
  client_max_body_size 2m;          # the event ingest takes up to 1 MB; videos go straight to storage
  client_body_buffer_size 2m;       # kept in memory: the workers (nobody) need not write under the checkout
  map \$http_x_request_id \$request_id_out { "" \$request_id; default \$http_x_request_id; }
  # /api/<service>/… tells the service its prefix, for the links of its Swagger UI (/api/<service>/docs).
  map \$request_uri \$api_prefix { ~^(?<prefix>/api/[a-z]+)/ \$prefix; default ""; }
  # HSTS only over TLS (a browser ignores it over plain HTTP, and it must never pin a plain-HTTP
  # development host): served over https, or by a TLS terminator in front that says X-Forwarded-Proto.
  map "\$scheme:\$http_x_forwarded_proto" \$hsts { ~https "max-age=31536000; includeSubDomains"; default ""; }
  # API answers hold personal data: never stored by a browser or a proxy, unless the service said otherwise.
  map \$upstream_http_cache_control \$api_cache_control { "" "no-store"; default ""; }
  server {
    listen 127.0.0.1:$(gateway_port);
    proxy_http_version 1.1;
    proxy_set_header Host \$host;
    proxy_set_header X-Request-ID \$request_id_out;
    # The gateway is the edge: it says who connected, never what a client claims (X-Forwarded-For it
    # sent is replaced). The services believe it from the gateway's address only (CUEPOINT_TRUSTED_PROXIES),
    # so the gateway connects to them from its own loopback address, not the 127.0.0.1 of every local client.
    proxy_set_header X-Forwarded-For \$remote_addr;
    proxy_set_header X-Forwarded-Proto \$scheme;
    proxy_set_header X-Forwarded-Prefix \$api_prefix;
    proxy_set_header Connection "";
    proxy_buffering off;             # Server-Sent Events (progress streams) pass through as they come
    proxy_read_timeout 1h;
    # The web client (web/dist, built by make web): its hashed assets cached for good, index.html
    # never, and every other path answered with index.html so the client's routes
    # (/lessons/…, /accept-invitation, /verify-email) work as links.
    root $WEB_SERVED;
    include $(nginx_mime_types);
    gzip on;
    gzip_types text/css application/javascript application/json application/problem+json image/svg+xml text/vtt;
    gzip_min_length 1024;
    gzip_comp_level 6;               # as web/scripts/bundle-budget.mjs counts it
    $headers
    # The gateway's own errors (a request nginx refuses, a service that does not answer) are problem+json
    # like every service's; a service's own error answers pass through as they are.
$(gateway_problems)
    location /assets/ {
      $headers
      add_header Cache-Control "public, max-age=31536000, immutable"; try_files \$uri =404;
    }
    location / { $headers add_header Cache-Control "no-cache"; try_files \$uri /index.html; }
    location /api/ {
      default_type application/problem+json;
      $headers
      return 404 '{"type": "about:blank", "title": "Not found", "status": 404, "detail": "no such API: use /api/<service>/… with ${SERVICES[*]}"}';
    }
    # Prometheus scrapes each service on its own port; /metrics is never public.
    location ~ ^/api/[^/]+/metrics(/|\$) {
      default_type application/problem+json;
      $headers
      return 404 '{"type": "about:blank", "title": "Not found", "status": 404, "detail": "metrics are not served through the gateway"}';
    }
    # The storage emulator sends no CORS headers: browsers upload and play through here (same origin),
    # as the URLs content hands out say (CUEPOINT_STORAGE_PUBLIC_URL). Videos stream through unbuffered.
    location /storage/ {
      proxy_pass ${STORAGE_EMULATOR_HOST%/}/;
      proxy_set_header Host \$proxy_host;
      proxy_request_buffering off;
      client_max_body_size 2g;
      $headers
    }
CONF
  local docs; docs="$(gateway_headers "$(gateway_docs_csp)")"
  for service in "${SERVICES[@]}"; do
    printf '    location /api/%s/ { proxy_bind %s; proxy_pass http://127.0.0.1:%s/; %s add_header Cache-Control $api_cache_control always; }\n' \
      "$service" "$(gateway_source_address)" "$(port_of "$service")" "$headers"
    printf '    location /api/%s/docs { proxy_bind %s; proxy_pass http://127.0.0.1:%s/docs; %s }\n' \
      "$service" "$(gateway_source_address)" "$(port_of "$service")" "$docs"
  done
  printf '  }\n}\n'
}

# What the built web client needs and nothing more: its own scripts and styles (no inline script in
# web/dist/index.html; React sets style properties, not style attributes), images (thumbnails may be any
# https URL), media and captions from the gateway (/storage/, blob: for captions), no framing. A deployment
# whose storage is another origin (real GCS) adds it to media-src and connect-src.
gateway_csp() {
  echo "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: https:; media-src 'self' blob:; connect-src 'self'; font-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
}

# Swagger UI (/api/<service>/docs) starts itself with an inline script: its pages alone may run one.
gateway_docs_csp() {
  echo "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
}

gateway_headers() { # $1: the Content-Security-Policy; one line of add_header directives
  printf '%s ' "add_header X-Content-Type-Options nosniff always;" "add_header Referrer-Policy same-origin always;" \
    "add_header X-Frame-Options DENY always;" "add_header Content-Security-Policy \"$1\" always;" \
    "add_header Strict-Transport-Security \$hsts always;"
}

# nginx's own 4xx/5xx as RFC 9457 problem+json: error_page to a named location per status.
gateway_problems() {
  local status title
  for status in 400 404 405 408 413 414 494 500 502 503 504; do
    case $status in
      400) title="Bad request" ;; 404) title="Not found" ;; 405) title="Method not allowed" ;;
      408) title="Request timeout" ;; 413) title="Payload too large" ;; 414) title="URI too long" ;;
      494) title="Request headers too large" ;; 500) title="Internal server error" ;;
      502) title="Bad gateway" ;; 503) title="Service unavailable" ;; 504) title="Gateway timeout" ;;
    esac
    printf '    error_page %s @problem%s;\n' "$status" "$status"
    printf '    location @problem%s { types { } default_type application/problem+json; %s return %s %s; }\n' "$status" \
      "$headers" "$([ "$status" = 494 ] && echo 400 || echo "$status")" \
      "'{\"type\": \"about:blank\", \"title\": \"$title\", \"status\": $([ "$status" = 494 ] && echo 400 || echo "$status"), \"detail\": \"answered by the gateway\"}'"
  done
}

gateway_port() { echo "${CUEPOINT_GATEWAY_PORT:-8080}"; }
# The address the gateway connects to the services from: what their CUEPOINT_TRUSTED_PROXIES (default
# 127.0.0.2) trusts forwarded headers from. Any 127.x address is the machine's own on Linux.
gateway_source_address() { echo "${CUEPOINT_GATEWAY_SOURCE_ADDRESS:-127.0.0.2}"; }
web_root() { echo "${CUEPOINT_WEB_ROOT:-$ROOT/web/dist}"; }
served_web_root() { # what nginx serves: web/dist, or a copy where its workers (nobody) can read it
  local built; built="$(web_root)"
  if [ "$(id -u)" != 0 ] || ! command -v runuser >/dev/null || runuser -u nobody -- test -r "$built/index.html" 2>/dev/null; then
    echo "$built"; return
  fi
  # This checkout is somewhere nobody cannot read (e.g. under /root), as PostgreSQL's data is in infra.sh.
  local copy="/var/lib/cuepoint/web-$(printf '%s' "$ROOT" | md5sum | cut -c1-12)"
  rm -rf "$copy.new" && mkdir -p "$(dirname "$copy")" && cp -r "$built" "$copy.new" && chmod -R a+rX "$copy.new" \
    && rm -rf "$copy" && mv "$copy.new" "$copy" && chmod a+rx /var/lib/cuepoint
  echo "$copy"
}
nginx_mime_types() { echo "${CUEPOINT_NGINX_MIME_TYPES:-/etc/nginx/mime.types}"; }
nginx_bin() { command -v nginx 2>/dev/null || echo /usr/sbin/nginx; }

gateway_up() {
  local pidfile="$RUN/gateway.pid" conf="$LOCAL/gateway/nginx.conf" log="$LOGS/gateway-error.log"
  [ -x "$(nginx_bin)" ] || fail "nginx is missing: run 'make infra' (it installs Debian's nginx)" ""
  [ -f "$(web_root)/index.html" ] || printf '    \033[33mnote\033[0m the web client is not built (%s): run make web; the APIs work without it\n' "$(web_root)"
  mkdir -p "$LOCAL/gateway"
  WEB_SERVED="$(web_root)"
  [ -f "$WEB_SERVED/index.html" ] && WEB_SERVED="$(served_web_root)"
  gateway_config >"$conf"
  "$(nginx_bin)" -t -c "$conf" -p "$LOCAL/gateway" >>"$log" 2>&1 || fail "the gateway configuration" "$log"
  if pid_alive "$pidfile"; then
    kill -HUP "$(cat "$pidfile")"  # pick up a changed configuration (ports)
  else
    port_open "$(gateway_port)" && fail "port $(gateway_port) for the gateway is taken by another process (set CUEPOINT_GATEWAY_PORT)" ""
    "$(nginx_bin)" -c "$conf" -p "$LOCAL/gateway" >>"$log" 2>&1 || fail "starting the gateway" "$log"
    STARTED+=("$pidfile")
  fi
  local i
  for ((i = 0; i < 50; i++)); do
    curl -fsS "http://127.0.0.1:$(gateway_port)/api/identity/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS "http://127.0.0.1:$(gateway_port)/api/identity/healthz" >/dev/null 2>&1 \
    || fail "the gateway does not reach identity" "$log"
  ok "gateway: http://127.0.0.1:$(gateway_port)/ (the web client) and /api/<service>/ (nginx; logs .local/logs/gateway-*.log)"
}

# Prometheus (Debian's package; make infra installs it): scrapes every api (/metrics on its own port,
# never through the gateway), worker and relay (/metrics on a port of their own, metrics_port_of),
# with the rules of deploy/prometheus/alerts.yml. Configuration and data under .local/prometheus/;
# on 127.0.0.1:9090 (CUEPOINT_PROMETHEUS_PORT). A second platform on the same machine (the e2e tests')
# sets CUEPOINT_PROMETHEUS_PORT=0 (no Prometheus) and CUEPOINT_METRICS_PORT_BASE=0 (any free port).
prometheus_port() { echo "${CUEPOINT_PROMETHEUS_PORT:-9090}"; }

metrics_port_of() { # metrics_port_of SERVICE INSTANCE: as cuepoint/runtime/metrics.py's metrics_port, replicas added
  local digit=0 i base="${CUEPOINT_METRICS_PORT_BASE:-9100}"
  [ "$base" = 0 ] && { echo 0; return; }
  for i in "${!SERVICES[@]}"; do [ "${SERVICES[$i]}" = "$1" ] && digit=$((i + 1)); done
  case "$2" in
    relay) echo $((base + 10 * digit + 9)) ;;
    worker) echo $((base + 10 * digit + 1)) ;;
    worker-*) echo $((base + 10 * digit + ${2#worker-})) ;;
  esac
}

prometheus_config() {
  local service instance
  cat <<EOF
# Generated by deploy/local/services.sh (prometheus_config): edit that, not this.
global: {scrape_interval: 15s, evaluation_interval: 15s}
rule_files: ["$ROOT/deploy/prometheus/alerts.yml"]
scrape_configs:
  - job_name: cuepoint
    honor_labels: true  # a relay's own service label is its target's
    static_configs:
EOF
  for service in "${SERVICES[@]}"; do
    echo "      - {targets: ['127.0.0.1:$(port_of "$service")'], labels: {service: $service, process: api}}"
    for instance in $(replicas "$service" worker) relay; do
      echo "      - {targets: ['127.0.0.1:$(metrics_port_of "$service" "$instance")'], labels: {service: $service, process: ${instance%%-*}}}"
    done
  done
  # What make infra runs (deploy/local/infra.sh): the broker's JMX exporter agent, one per node, and
  # prometheus-postgres-exporter. Their ports are infra.sh's; 0 there means not running.
  local kafka_metrics="${CUEPOINT_KAFKA_METRICS_PORT:-9404}" pg_metrics="${CUEPOINT_PG_METRICS_PORT:-9187}" node
  if [ "$kafka_metrics" != 0 ]; then
    echo "  - job_name: kafka"
    echo "    static_configs:"
    for ((node = 1; node <= ${CUEPOINT_KAFKA_BROKERS:-1}; node++)); do
      echo "      - {targets: ['127.0.0.1:$((kafka_metrics + node - 1))'], labels: {service: kafka, process: broker-$node}}"
    done
  fi
  if [ "$pg_metrics" != 0 ]; then
    echo "  - job_name: postgres"
    echo "    scrape_interval: 30s  # its statement and table queries are not free"
    echo "    static_configs:"
    echo "      - {targets: ['127.0.0.1:$pg_metrics'], labels: {service: postgres, process: exporter}}"
  fi
}

prometheus_up() {
  local pidfile="$RUN/prometheus.pid" log="$LOGS/prometheus.log" dir="$LOCAL/prometheus" port i
  port="$(prometheus_port)"
  [ "$port" = 0 ] && return 0
  command -v prometheus >/dev/null || fail "prometheus is missing: run 'make infra' (it installs Debian's prometheus)" ""
  mkdir -p "$dir/data"
  prometheus_config >"$dir/prometheus.yml"
  promtool check config "$dir/prometheus.yml" >>"$log" 2>&1 || fail "the Prometheus configuration" "$log"
  if pid_alive "$pidfile"; then
    curl -fsS -X POST "http://127.0.0.1:$port/-/reload" >/dev/null 2>&1 || fail "reloading Prometheus" "$log"
  else
    port_open "$port" && fail "port $port for Prometheus is taken by another process (set CUEPOINT_PROMETHEUS_PORT)" ""
    (trap '' HUP; supervise "$pidfile.child" "$log" prometheus --config.file="$dir/prometheus.yml" \
      --storage.tsdb.path="$dir/data" --storage.tsdb.retention.time=7d \
      --web.listen-address="127.0.0.1:$port" --web.enable-lifecycle) >/dev/null 2>&1 </dev/null &
    echo $! >"$pidfile"
    STARTED+=("$pidfile")
  fi
  for ((i = 0; i < 300; i++)); do
    curl -fsS "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1 || fail "Prometheus did not become ready on port $port" "$log"
  ok "prometheus: http://127.0.0.1:$port/ (targets /targets, alerts /alerts; rules deploy/prometheus/alerts.yml)"
}

down() {
  local pidfiles=() pidfile
  for pidfile in "$RUN"/prometheus.pid "$RUN"/gateway.pid "$RUN"/*-api.pid "$RUN"/*-worker.pid "$RUN"/*-worker-*.pid "$RUN"/*-relay.pid; do
    [ -e "$pidfile" ] && pidfiles+=("$pidfile")
  done
  [ "${#pidfiles[@]}" -gt 0 ] || return 0
  # All at once (each takes about 2 s to drain; one after another was 34 s): every process finishes what it
  # holds on SIGTERM by itself, and what a relay leaves unpublished stays in its outbox for the next start.
  stop_processes TERM 100 "${pidfiles[@]}"
  ok "services stopped"
}

status() {
  for service in "${SERVICES[@]}"; do
    local line="$service"
    for process in "${PROCESSES[@]}"; do
      local up=0 total=0 instance
      for instance in $(replicas "$service" "$process"); do
        total=$((total + 1)); pid_alive "$RUN/$service-$instance.pid" && up=$((up + 1))
      done
      if [ "$up" = "$total" ]; then line+="  $process:up"; elif [ "$up" = 0 ]; then line+="  $process:down"
      else line+="  $process:$up/$total up"; fi
    done
    printf '%-60s http://127.0.0.1:%s\n' "$line" "$(port_of "$service")"
  done
  if pid_alive "$RUN/gateway.pid"; then
    printf '%-60s http://127.0.0.1:%s/api/<service>/\n' "gateway  up" "$(gateway_port)"
  else
    printf '%-60s\n' "gateway  down"
  fi
  if pid_alive "$RUN/prometheus.pid"; then
    printf '%-60s http://127.0.0.1:%s/\n' "prometheus  up" "$(prometheus_port)"
  else
    printf '%-60s\n' "prometheus  down"
  fi
}

# Sourced (tests/deploy/test_supervision.py): the functions only.
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0

case "${1:-}" in
  up) up ;;
  gateway) gateway_up ;;
  prometheus) prometheus_up ;;
  down) down ;;
  status) status ;;
  *) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
