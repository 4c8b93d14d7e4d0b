#!/usr/bin/env bash
# Local infrastructure without Docker: PostgreSQL (Debian's packages), Apache Kafka
# (jars from Maven Central, one KRaft node under Java 17) and a Google Cloud Storage
# emulator (PyPI's gcp-storage-emulator). Data and logs under .local/.
#
#   deploy/local/infra.sh up        install what is missing, start both, create DB roles/schemas and topics
#   deploy/local/infra.sh down      stop both
#   deploy/local/infra.sh status    say what runs
#   deploy/local/infra.sh kafka-start | kafka-stop | kafka-kill   (the broker alone; tests use these)
#   deploy/local/infra.sh replica-start | replica-stop | replica-drop   (PostgreSQL's streaming replica)
#
# The replica (off by default): `CUEPOINT_PG_REPLICA=1 make infra` (or replica-start) takes a base backup of
#        the cluster (pg_basebackup -R, role cuepoint_replicator, slot cuepoint_replica) into .local/pg/replica
#        and runs it read-only on CUEPOINT_PG_REPLICA_PORT (the primary's port + 1); once made, `up` starts it
#        again and `down` stops it; replica-drop deletes it and its slot. analytics reads from it when
#        CUEPOINT_ANALYTICS_READ_URL names it (README, "Analytics' read replica").
#
# Ports: CUEPOINT_PG_PORT (5432), CUEPOINT_KAFKA_PORT (9092), CUEPOINT_KAFKA_CONTROLLER_PORT (port+1),
#        CUEPOINT_STORAGE_PORT (9023). Metrics for Prometheus: the broker's (the JMX exporter agent)
#        on CUEPOINT_KAFKA_METRICS_PORT (9404; node i of a cluster on 9404 + i - 1), PostgreSQL's
#        (prometheus-postgres-exporter) on CUEPOINT_PG_METRICS_PORT (9187); 0 turns either off. CUEPOINT_KAFKA_BROKERS=3: three KRaft nodes (9092, 9094, 9096),
#        replication factor 3, min.insync.replicas=2.
# Every step is idempotent; a failed one exits non-zero naming the step and the log to read.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOCAL="${CUEPOINT_LOCAL_DIR:-$ROOT/.local}"
LOGS="$LOCAL/logs"
RUN="$LOCAL/run"
PG_PORT="${CUEPOINT_PG_PORT:-5432}"
KAFKA_PORT="${CUEPOINT_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${CUEPOINT_KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
PG_SUPERUSER_PASSWORD="${CUEPOINT_PG_SUPERUSER_PASSWORD:-cuepoint-admin}"
DB_PASSWORD="${CUEPOINT_DB_PASSWORD:-cuepoint-local}"
PG_DATABASE="${CUEPOINT_PG_DATABASE:-cuepoint}"
STORAGE_PORT="${CUEPOINT_STORAGE_PORT:-9023}"
KAFKA_DIR="$LOCAL/kafka"
# CUEPOINT_KAFKA_BROKERS=3: a three-node KRaft cluster on one machine (each node broker and controller,
# node i on KAFKA_PORT + 2(i-1), its controller one above), topics with replication factor 3 and
# min.insync.replicas=2, so losing one broker loses nothing acknowledged and stops nothing.
KAFKA_BROKERS="${CUEPOINT_KAFKA_BROKERS:-1}"
KAFKA_LIBS="$KAFKA_DIR/libs"
KAFKA_METRICS_PORT="${CUEPOINT_KAFKA_METRICS_PORT:-9404}"
# The Prometheus JMX exporter, as a Java agent of the broker (Maven Central); its own directory, so
# its shaded classes stay off the broker's classpath.
JMX_EXPORTER="io.prometheus.jmx:jmx_prometheus_javaagent:1.0.1"
KAFKA_AGENT="$KAFKA_DIR/agent/jmx_prometheus_javaagent.jar"
PG_METRICS_PORT="${CUEPOINT_PG_METRICS_PORT:-9187}"
# The streaming replica (replica-start): its port and slot (a test's own replica names others, and its
# directory with CUEPOINT_PG_REPLICA_DIR).
REPLICA_PORT="${CUEPOINT_PG_REPLICA_PORT:-$((PG_PORT + 1))}"
REPLICA_SLOT="${CUEPOINT_PG_REPLICA_SLOT:-cuepoint_replica}"
PY="$ROOT/.venv/bin/python"

mkdir -p "$LOGS" "$RUN"

# shellcheck source=../lib.sh
source "$ROOT/deploy/lib.sh"

APT_UPDATED=0
apt_install() { # apt_install PACKAGE...
  local log="$LOGS/install.log"
  if [ "$(id -u)" != 0 ]; then fail "installing $* needs root (apt-get); install them and run again" ""; fi
  if [ "$APT_UPDATED" = 0 ]; then
    say "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update >>"$log" 2>&1 || fail "apt-get update" "$log"
    APT_UPDATED=1
  fi
  say "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >>"$log" 2>&1 || fail "apt-get install $*" "$log"
}

pg_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

ensure_tools() {
  local missing=()
  [ -n "$(pg_bindir)" ] && [ -x "$(pg_bindir)/initdb" ] || missing+=(postgresql postgresql-contrib)
  command -v java >/dev/null && java -version 2>&1 | grep -qE 'version "(1[7-9]|2[0-9])' || missing+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || missing+=(maven)
  # ffprobe reads a video's duration and resolution on upload (and ffmpeg makes the demo video).
  command -v ffprobe >/dev/null || missing+=(ffmpeg)
  # nginx is the gateway in front of the five APIs (deploy/local/services.sh).
  [ -x /usr/sbin/nginx ] || command -v nginx >/dev/null || missing+=(nginx-light)
  # Prometheus scrapes every process and evaluates deploy/prometheus/alerts.yml (services.sh prometheus_up).
  command -v prometheus >/dev/null && command -v promtool >/dev/null || missing+=(prometheus)
  # PostgreSQL's statistics for Prometheus (pg_stat_user_tables/indexes, pg_stat_statements).
  command -v prometheus-postgres-exporter >/dev/null || missing+=(prometheus-postgres-exporter)
  if [ ${#missing[@]} -gt 0 ]; then
    apt_install "${missing[@]}"
    # Debian's nginx package starts a default site on port 80; Cuepoint runs its own instance.
    if command -v systemctl >/dev/null && systemctl is-active --quiet nginx 2>/dev/null; then
      systemctl stop nginx >>"$LOGS/install.log" 2>&1 || true
    elif [ -f /run/nginx.pid ]; then
      kill "$(cat /run/nginx.pid)" 2>/dev/null || true
    fi
    # Debian's package may start its own default cluster on 5432; Cuepoint runs its own.
    if command -v pg_lsclusters >/dev/null; then
      pg_lsclusters -h 2>/dev/null | awk '$4 == "online" {print $1, $2}' | while read -r version cluster; do
        pg_ctlcluster "$version" "$cluster" stop >>"$LOGS/install.log" 2>&1 || true
      done
    fi
  fi
  [ -x "$PY" ] || fail "the Python environment is missing: run 'make deps' (uv sync) first" ""
}

# --- PostgreSQL ------------------------------------------------------------------------

pg_data_dir() {
  # PostgreSQL refuses to run as root, and the postgres user must reach its data
  # directory. If this checkout sits where postgres cannot reach (e.g. under /root),
  # the data lives under /var/lib/postgresql and .local/pg links to it.
  local dir="$LOCAL/pg"
  if [ -L "$dir" ] || { [ -d "$dir" ] && runuser -u postgres -- test -w "$dir" 2>/dev/null; }; then
    echo "$dir"; return
  fi
  mkdir -p "$dir"; chown postgres:postgres "$dir"
  if runuser -u postgres -- test -w "$dir" 2>/dev/null; then echo "$dir"; return; fi
  rmdir "$dir"
  local elsewhere="/var/lib/postgresql/cuepoint-$(printf '%s' "$ROOT" | md5sum | cut -c1-12)"
  mkdir -p "$elsewhere"; chown postgres:postgres "$elsewhere"
  ln -s "$elsewhere" "$dir"
  echo "$dir"
}

pg_ctl_() { (cd / && runuser -u postgres -- "$(pg_bindir)/pg_ctl" "$@"); }

pg_running() { local data; data="$(readlink -f "$LOCAL/pg")/data"; [ -f "$data/postmaster.pid" ] && pg_ctl_ -D "$data" status >/dev/null 2>&1; }

pg_start() {
  local base data log="$LOGS/postgres.log" server_log
  base="$(readlink -f "$(pg_data_dir)")"; data="$base/data"
  # The server writes its log as postgres, so it lives beside the data; .local/logs links to it.
  server_log="$base/server.log"
  touch "$server_log"; chown postgres:postgres "$server_log"
  ln -sfn "$server_log" "$log"
  if [ ! -f "$data/PG_VERSION" ]; then
    say "initialising PostgreSQL cluster in $data"
    local pwfile="$base/.pwfile"
    printf '%s\n' "$PG_SUPERUSER_PASSWORD" >"$pwfile"; chown postgres:postgres "$pwfile"; chmod 600 "$pwfile"
    (cd / && runuser -u postgres -- "$(pg_bindir)/initdb" -D "$data" --username=postgres --pwfile="$pwfile" \
      --auth-local=peer --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8) >>"$log" 2>&1 \
      || fail "initdb" "$log"
    rm -f "$pwfile"
  fi
  if pg_running; then ok "PostgreSQL already running on 127.0.0.1:$PG_PORT"; return; fi
  if port_open "$PG_PORT"; then
    fail "port $PG_PORT is taken by another process (see: ss -ltnp 'sport = :$PG_PORT'); set CUEPOINT_PG_PORT" ""
  fi
  mkdir -p "$base/run"; chown postgres:postgres "$base/run"
  say "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  # Sized for the telemetry's writes (bench/analytics_ingest.py): buffers that hold the hot partitions' indexes,
  # checkpoints far enough apart that full-page images do not double the WAL. pg_stat_statements: the
  # slowest statements, for the metrics exporter (deploy/prometheus/postgres-queries.yaml). max_slot_wal_keep_size: a
  # replica left stopped holds back at most this much WAL, then its slot is given up (replica-drop, replica-start).
  pg_ctl_ -D "$data" -l "$server_log" -w -t 60 start \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $base/run -c max_connections=300 -c shared_buffers=2GB -c random_page_cost=1.1 -c effective_cache_size=8GB -c max_wal_size=8GB -c checkpoint_timeout=15min -c wal_compression=lz4 -c fsync=${CUEPOINT_PG_FSYNC:-on} -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.max=5000 -c track_io_timing=on -c max_slot_wal_keep_size=${CUEPOINT_PG_SLOT_WAL_KEEP:-8GB}" \
    >>"$log" 2>&1 || fail "starting PostgreSQL" "$log"
  ok "PostgreSQL running on 127.0.0.1:$PG_PORT (log: $log)"
}

pg_stop() {
  if pg_running; then
    say "stopping PostgreSQL"
    pg_ctl_ -D "$(readlink -f "$LOCAL/pg")/data" -m fast -w stop >>"$LOGS/postgres.log" 2>&1 || fail "stopping PostgreSQL" "$LOGS/postgres.log"
  fi
}

pg_provision() {
  local log="$LOGS/provision.log"
  say "creating database $PG_DATABASE, schemas and roles"
  "$PY" -m cuepoint.runtime.provision \
    --admin-url "postgresql://postgres:$PG_SUPERUSER_PASSWORD@127.0.0.1:$PG_PORT/postgres" \
    --database "$PG_DATABASE" --password "$DB_PASSWORD" >>"$log" 2>&1 || fail "provisioning the database" "$log"
  ok "$(tail -n 1 "$log")"
}

# --- PostgreSQL's streaming replica (off by default; CUEPOINT_PG_REPLICA=1 or replica-start) ----

replica_dir() { echo "${CUEPOINT_PG_REPLICA_DIR:-$(readlink -f "$LOCAL/pg")/replica}"; }

pg_psql() { # pg_psql ARGS...: psql on the primary as postgres (peer authentication on its socket)
  (cd / && runuser -u postgres -- "$(pg_bindir)/psql" -h "$(readlink -f "$LOCAL/pg")/run" -p "$PG_PORT" -d postgres \
    -v ON_ERROR_STOP=1 -qAtX "$@")
}

replica_running() { local data; data="$(replica_dir)/data"; [ -f "$data/postmaster.pid" ] && pg_ctl_ -D "$data" status >/dev/null 2>&1; }

replica_start() {
  local dir data log settings
  pg_running || fail "the replica follows the primary: start it first (deploy/local/infra.sh up)" ""
  dir="$(replica_dir)"; data="$dir/data"; log="$dir/server.log"
  mkdir -p "$dir/run"; chown postgres:postgres "$dir" "$dir/run"; touch "$log"; chown postgres:postgres "$log"
  if replica_running; then ok "PostgreSQL's replica already running on 127.0.0.1:$REPLICA_PORT"; return; fi
  port_open "$REPLICA_PORT" && fail "port $REPLICA_PORT is taken by another process; set CUEPOINT_PG_REPLICA_PORT" ""
  if [ ! -f "$data/PG_VERSION" ]; then
    say "base backup of the cluster for the replica (pg_basebackup -R, slot $REPLICA_SLOT) into $data"
    # The replication role (it reads the WAL, no table's rows) and the slot that keeps the WAL the replica still needs.
    pg_psql -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cuepoint_replicator') THEN
                  CREATE ROLE cuepoint_replicator LOGIN REPLICATION; END IF; END \$\$" \
      -c "ALTER ROLE cuepoint_replicator PASSWORD '$DB_PASSWORD'" \
      -c "SELECT pg_create_physical_replication_slot('$REPLICA_SLOT') WHERE NOT EXISTS
            (SELECT FROM pg_replication_slots WHERE slot_name = '$REPLICA_SLOT')" >>"$log" 2>&1 \
      || fail "creating the replication role and slot" "$log"
    printf '127.0.0.1:%s:*:cuepoint_replicator:%s\n' "$PG_PORT" "$DB_PASSWORD" >"$dir/.pgpass"
    chown postgres:postgres "$dir/.pgpass"; chmod 600 "$dir/.pgpass"
    rm -rf "$data"
    # -R writes standby.signal and primary_conninfo (naming the passfile, kept for reconnecting), so the copy
    # starts as a standby of the primary, reading through the slot.
    (cd / && runuser -u postgres -- env PGPASSFILE="$dir/.pgpass" "$(pg_bindir)/pg_basebackup" -h 127.0.0.1 -p "$PG_PORT" \
      -U cuepoint_replicator -D "$data" -R -S "$REPLICA_SLOT" -X stream -c fast --no-password) >>"$log" 2>&1 \
      || fail "pg_basebackup of the primary" "$log"
    # The primary's settings come from its command line, not from a file the copy would have.
    rm -f "$data/postmaster.opts" "$data/postmaster.pid"
  fi
  # A hot standby needs at least the primary's connection and lock limits; hot_standby_feedback keeps the
  # primary's vacuum from removing rows a dashboard's query on the replica still reads (no cancelled queries).
  settings="$(pg_psql -c "SELECT string_agg('-c ' || name || '=' || setting, ' ') FROM pg_settings
                          WHERE name IN ('max_connections', 'max_worker_processes', 'max_wal_senders',
                                         'max_prepared_transactions', 'max_locks_per_transaction')")" \
    || fail "reading the primary's settings" ""
  say "starting PostgreSQL's replica on 127.0.0.1:$REPLICA_PORT"
  pg_ctl_ -D "$data" -l "$log" -w -t 120 start \
    -o "-p $REPLICA_PORT -c listen_addresses=127.0.0.1 -k $dir/run $settings -c shared_buffers=${CUEPOINT_PG_REPLICA_BUFFERS:-512MB} -c hot_standby=on -c hot_standby_feedback=on -c cluster_name=cuepoint-replica" \
    >>"$log" 2>&1 || fail "starting PostgreSQL's replica" "$log"
  ok "PostgreSQL's replica running on 127.0.0.1:$REPLICA_PORT (read-only, slot $REPLICA_SLOT; log: $log)"
}

replica_stop() {
  if replica_running; then
    say "stopping PostgreSQL's replica"
    pg_ctl_ -D "$(replica_dir)/data" -m fast -w stop >>"$(replica_dir)/server.log" 2>&1 || fail "stopping the replica" "$(replica_dir)/server.log"
  fi
}

replica_drop() { # the replica's data and its slot (a slot nobody reads keeps WAL on the primary)
  replica_stop
  if [ -d "$(replica_dir)" ]; then say "removing the replica in $(replica_dir)"; rm -rf "$(replica_dir)"; fi
  if pg_running; then
    pg_psql -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
                WHERE slot_name = '$REPLICA_SLOT' AND NOT active" >/dev/null || fail "dropping the slot $REPLICA_SLOT" ""
  fi
  ok "no replica (slot $REPLICA_SLOT dropped)"
}

replica_status() {
  if replica_running; then
    local lag; lag="$(pg_psql -c "SELECT COALESCE(r.state, 'disconnected') || ', replay lag ' || COALESCE(r.replay_lag::text, '0')
                                   || ', ' || pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)) || ' WAL held'
                                   FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid
                                   WHERE s.slot_name = '$REPLICA_SLOT'" 2>/dev/null || true)"
    echo "replica   running  127.0.0.1:$REPLICA_PORT  slot $REPLICA_SLOT: ${lag:-primary not answering}"
  elif [ -f "$(replica_dir)/data/PG_VERSION" ]; then echo "replica   stopped  (data: $(replica_dir)/data)"
  fi
}

# --- Kafka -----------------------------------------------------------------------------

kafka_jars() {
  local log="$LOGS/maven.log" pom="$ROOT/deploy/local/kafka/pom.xml" stamp="$KAFKA_LIBS/.pom.sha256"
  local want; want="$(sha256sum "$pom" | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "resolving Kafka jars from Maven Central (deploy/local/kafka/pom.xml)"
    rm -rf "$KAFKA_LIBS"; mkdir -p "$KAFKA_LIBS"
    mvn -B -q -f "$pom" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS" >"$log" 2>&1 \
      || fail "resolving Kafka jars with Maven" "$log"
    echo "$want" >"$stamp"
    ok "$(ls "$KAFKA_LIBS" | grep -c '\.jar$') jars in $KAFKA_LIBS"
  fi
  # The metrics agent, when the broker is to have one (a test's private broker runs without).
  if [ "$KAFKA_METRICS_PORT" != 0 ] && [ ! -f "$KAFKA_AGENT" ]; then
    mkdir -p "$(dirname "$KAFKA_AGENT")"
    mvn -B -q dependency:copy -Dartifact="$JMX_EXPORTER" -DoutputDirectory="$(dirname "$KAFKA_AGENT")" >>"$log" 2>&1 \
      || fail "resolving the JMX exporter agent ($JMX_EXPORTER) with Maven" "$log"
    mv "$(dirname "$KAFKA_AGENT")"/jmx_prometheus_javaagent-*.jar "$KAFKA_AGENT"
    ok "the JMX exporter agent in $KAFKA_AGENT"
  fi
}

kafka_config() {
  mkdir -p "$KAFKA_DIR/data"
  sed -e "s#@DATA@#$KAFKA_DIR/data#" -e "s#@PORT@#$KAFKA_PORT#g" -e "s#@CONTROLLER_PORT@#$KAFKA_CONTROLLER_PORT#g" \
    "$ROOT/deploy/local/kafka/server.properties" >"$KAFKA_DIR/server.properties"
}

kafka_tool() { # kafka_tool MAIN_CLASS ARGS...: a Kafka command-line tool from the same jars
  java -Xmx256m -Dlog4j2.configurationFile="$ROOT/deploy/local/kafka/log4j2.yaml" -cp "$KAFKA_LIBS/*" "$@"
}

kafka_launch() { # kafka_launch PROPERTIES LOG PIDFILE XMS XMX METRICS_PORT: one Kafka node, in the background
  local agent=()
  [ "$6" != 0 ] && agent=("-javaagent:$KAFKA_AGENT=127.0.0.1:$6:$ROOT/deploy/local/kafka/jmx-exporter.yaml")
  nohup java -Xms"$4" -Xmx"$5" -XX:+UseG1GC -Djava.awt.headless=true "${agent[@]}" \
    -Dlog4j2.configurationFile="$ROOT/deploy/local/kafka/log4j2.yaml" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$1" >>"$2" 2>&1 </dev/null &
  echo $! >"$3"
}

kafka_answers() { # kafka_answers BOOTSTRAP: waits up to 60 s until the brokers serve metadata (the port opens before)
  local i
  for ((i = 0; i < 60; i++)); do
    "$PY" -c "import asyncio,sys; from cuepoint.runtime.kafka import kafka_reachable; sys.exit(0 if asyncio.run(kafka_reachable('$1')) else 1)" 2>/dev/null && return 0
    sleep 1
  done
  return 1
}

kafka_start() {
  if [ "$KAFKA_BROKERS" -gt 1 ]; then kafka_cluster_start; return; fi
  local log="$LOGS/kafka.log" pidfile="$RUN/kafka.pid"
  kafka_jars
  kafka_config
  if pid_alive "$pidfile" && port_open "$KAFKA_PORT"; then
    ok "Kafka already running on 127.0.0.1:$KAFKA_PORT"
    if [ "$KAFKA_METRICS_PORT" != 0 ] && ! port_open "$KAFKA_METRICS_PORT"; then
      printf '    \033[33mnote\033[0m it was started without its metrics agent (port %s): restart it to have them (deploy/local/infra.sh kafka-stop; make infra)\n' "$KAFKA_METRICS_PORT"
    fi
    return
  fi
  if pid_alive "$pidfile"; then
    say "Kafka process $(cat "$pidfile") is starting; waiting"
  else
    for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
      port_open "$port" && fail "port $port is taken by another process (see: ss -ltnp 'sport = :$port'); set CUEPOINT_KAFKA_PORT" ""
    done
    if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
      say "formatting Kafka storage (KRaft, single node)"
      local cluster_id; cluster_id="$(kafka_tool kafka.tools.StorageTool random-uuid 2>>"$log")" || fail "kafka-storage random-uuid" "$log"
      kafka_tool kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_DIR/server.properties" --standalone >>"$log" 2>&1 \
        || fail "formatting Kafka storage" "$log"
    fi
    say "starting Kafka on 127.0.0.1:$KAFKA_PORT"
    kafka_launch "$KAFKA_DIR/server.properties" "$log" "$pidfile" 256m "${CUEPOINT_KAFKA_HEAP:-768m}" "$KAFKA_METRICS_PORT"
  fi
  if ! wait_port "$KAFKA_PORT" 90; then fail "starting Kafka (port $KAFKA_PORT never opened)" "$log"; fi
  kafka_answers "127.0.0.1:$KAFKA_PORT" || fail "Kafka started but does not answer metadata requests" "$log"
  ok "Kafka running on 127.0.0.1:$KAFKA_PORT (pid $(cat "$pidfile"), log: $log)"
}

kafka_stop() { # kafka_stop [SIGNAL]
  if [ "$KAFKA_BROKERS" -gt 1 ]; then kafka_cluster_stop "${1:-TERM}"; return; fi
  pid_alive "$RUN/kafka.pid" && say "stopping Kafka (SIG${1:-TERM})"
  stop_process "$RUN/kafka.pid" "${1:-TERM}" 300
}

kafka_node_port() { echo $((KAFKA_PORT + 2 * ($1 - 1))); } # kafka_node_port NODE

kafka_cluster_start() { # the CUEPOINT_KAFKA_BROKERS nodes: .local/kafka/node-<i>, pids kafka-<i>.pid, logs kafka-<i>.log
  kafka_jars
  local n voters="" cluster_id node port dir log
  for ((n = 1; n <= KAFKA_BROKERS; n++)); do voters+="${voters:+,}$n@127.0.0.1:$(($(kafka_node_port "$n") + 1))"; done
  mkdir -p "$KAFKA_DIR"
  [ -f "$KAFKA_DIR/cluster.id" ] || kafka_tool kafka.tools.StorageTool random-uuid >"$KAFKA_DIR/cluster.id" 2>>"$LOGS/kafka-1.log" \
    || fail "kafka-storage random-uuid" "$LOGS/kafka-1.log"
  cluster_id="$(cat "$KAFKA_DIR/cluster.id")"
  for ((node = 1; node <= KAFKA_BROKERS; node++)); do
    port="$(kafka_node_port "$node")" dir="$KAFKA_DIR/node-$node" log="$LOGS/kafka-$node.log"
    if pid_alive "$RUN/kafka-$node.pid"; then continue; fi
    port_open "$port" && fail "port $port is taken by another process; set CUEPOINT_KAFKA_PORT" ""
    mkdir -p "$dir/data"
    # The single node's configuration, made one of a static quorum with three copies of everything.
    sed -e "s#@DATA@#$dir/data#" -e "s#@PORT@#$port#g" -e "s#@CONTROLLER_PORT@#$((port + 1))#g" \
      -e "s#^node.id=.*#node.id=$node#" -e "s#^controller.quorum.bootstrap.servers=.*#controller.quorum.voters=$voters#" \
      -e "s#^\(default.replication.factor\|offsets.topic.replication.factor\|transaction.state.log.replication.factor\|share.coordinator.state.topic.replication.factor\)=.*#\1=3#" \
      -e "s#^\(min.insync.replicas\|transaction.state.log.min.isr\|share.coordinator.state.topic.min.isr\)=.*#\1=2#" \
      "$ROOT/deploy/local/kafka/server.properties" >"$dir/server.properties"
    if [ ! -f "$dir/data/meta.properties" ]; then
      kafka_tool kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/server.properties" >>"$log" 2>&1 \
        || fail "formatting Kafka storage (node $node)" "$log"
    fi
    say "starting Kafka node $node on 127.0.0.1:$port"
    kafka_launch "$dir/server.properties" "$log" "$RUN/kafka-$node.pid" 128m "${CUEPOINT_KAFKA_HEAP:-384m}" \
      "$([ "$KAFKA_METRICS_PORT" = 0 ] && echo 0 || echo $((KAFKA_METRICS_PORT + node - 1)))"
  done
  for ((node = 1; node <= KAFKA_BROKERS; node++)); do
    wait_port "$(kafka_node_port "$node")" 120 || fail "starting Kafka node $node" "$LOGS/kafka-$node.log"
  done
  kafka_answers "$(kafka_bootstrap)" || fail "the Kafka cluster does not answer metadata requests" "$LOGS/kafka-1.log"
  ok "Kafka: $KAFKA_BROKERS brokers on $(kafka_bootstrap)"
}

kafka_cluster_stop() { # kafka_cluster_stop SIGNAL
  local node
  for ((node = 1; node <= KAFKA_BROKERS; node++)); do
    pid_alive "$RUN/kafka-$node.pid" && say "stopping Kafka node $node (SIG$1)"
    stop_process "$RUN/kafka-$node.pid" "$1" 300
  done
}

kafka_bootstrap() { # host:port[,host:port] of every broker
  local node out=""
  for ((node = 1; node <= KAFKA_BROKERS; node++)); do out+="${out:+,}127.0.0.1:$(kafka_node_port "$node")"; done
  echo "$out"
}

kafka_topics() {
  local log="$LOGS/topics.log"
  "$PY" -m cuepoint.runtime.kafka ensure-topics --bootstrap "$(kafka_bootstrap)" \
    --replication-factor "$([ "$KAFKA_BROKERS" -ge 3 ] && echo 3 || echo 1)" >"$log" 2>&1 || fail "creating Kafka topics" "$log"
  ok "$(tail -n 1 "$log")"
}

# --- PostgreSQL's metrics (Debian's prometheus-postgres-exporter) -------------------------

pg_exporter_start() {
  local log="$LOGS/postgres-exporter.log" pidfile="$RUN/postgres-exporter.pid" i
  [ "$PG_METRICS_PORT" = 0 ] && return 0
  if pid_alive "$pidfile" && port_open "$PG_METRICS_PORT"; then ok "PostgreSQL's metrics already on 127.0.0.1:$PG_METRICS_PORT"; return; fi
  port_open "$PG_METRICS_PORT" && fail "port $PG_METRICS_PORT is taken by another process; set CUEPOINT_PG_METRICS_PORT" ""
  # As cuepoint_monitor (pg_monitor: statistics, no table's rows; made by the provisioning above).
  DATA_SOURCE_NAME="postgresql://cuepoint_monitor:$DB_PASSWORD@127.0.0.1:$PG_PORT/$PG_DATABASE?sslmode=disable" \
    nohup prometheus-postgres-exporter --web.listen-address="127.0.0.1:$PG_METRICS_PORT" \
    --extend.query-path="$ROOT/deploy/prometheus/postgres-queries.yaml" --disable-settings-metrics \
    >>"$log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  wait_port "$PG_METRICS_PORT" 30 || fail "starting prometheus-postgres-exporter" "$log"
  ok "PostgreSQL's metrics on http://127.0.0.1:$PG_METRICS_PORT/metrics (log: $log)"
}

pg_exporter_stop() { stop_process "$RUN/postgres-exporter.pid" TERM 50; }

# --- Object storage (GCS emulator from PyPI; production uses real GCS) -----------------

storage_start() {
  local log="$LOGS/storage.log" pidfile="$RUN/storage.pid" i
  if pid_alive "$pidfile" && port_open "$STORAGE_PORT"; then ok "storage emulator already running on 127.0.0.1:$STORAGE_PORT"; return; fi
  port_open "$STORAGE_PORT" && fail "port $STORAGE_PORT is taken by another process; set CUEPOINT_STORAGE_PORT" ""
  mkdir -p "$LOCAL/gcs"
  say "starting the storage emulator on 127.0.0.1:$STORAGE_PORT"
  (
    cd "$LOCAL/gcs" || exit 1  # the emulator keeps its data in the working directory
    nohup "$ROOT/.venv/bin/gcp-storage-emulator" start --host=127.0.0.1 --port="$STORAGE_PORT" \
      --default-bucket=cuepoint-media >>"$log" 2>&1 </dev/null &
    echo $! >"$pidfile"
  )
  wait_port "$STORAGE_PORT" 30 || fail "starting the storage emulator" "$log"
  ok "storage emulator running on 127.0.0.1:$STORAGE_PORT (bucket cuepoint-media, data .local/gcs)"
}

storage_stop() {
  pid_alive "$RUN/storage.pid" && say "stopping the storage emulator"
  stop_process "$RUN/storage.pid" TERM 50
}

status() {
  if pg_running; then echo "postgres  running  127.0.0.1:$PG_PORT  data: $(readlink -f "$LOCAL/pg")/data"; else echo "postgres  stopped"; fi
  if [ "$KAFKA_BROKERS" -gt 1 ]; then
    local node; for ((node = 1; node <= KAFKA_BROKERS; node++)); do
      if pid_alive "$RUN/kafka-$node.pid"; then echo "kafka-$node   running  127.0.0.1:$(kafka_node_port "$node")  pid $(cat "$RUN/kafka-$node.pid")"; else echo "kafka-$node   stopped"; fi
    done
  elif pid_alive "$RUN/kafka.pid" && port_open "$KAFKA_PORT"; then echo "kafka     running  127.0.0.1:$KAFKA_PORT  pid $(cat "$RUN/kafka.pid")"; else echo "kafka     stopped"; fi
  replica_status
  if pid_alive "$RUN/storage.pid" && port_open "$STORAGE_PORT"; then echo "storage   running  127.0.0.1:$STORAGE_PORT  (GCS emulator)"; else echo "storage   stopped"; fi
}

case "${1:-}" in
  up)
    ensure_tools
    pg_start
    pg_provision
    pg_exporter_start
    # The replica when asked for, or when one was made before (its slot holds WAL until it catches up).
    if [ "${CUEPOINT_PG_REPLICA:-0}" = 1 ] || [ -f "$(replica_dir)/data/PG_VERSION" ]; then replica_start; fi
    kafka_start
    kafka_topics
    storage_start
    ;;
  down) storage_stop; kafka_stop; pg_exporter_stop; replica_stop; pg_stop; ok "infrastructure stopped" ;;
  status) status ;;
  kafka-start) kafka_start ;;
  kafka-stop) kafka_stop TERM ;;
  kafka-kill) kafka_stop KILL ;;
  replica-start) replica_start ;;
  replica-stop) replica_stop ;;
  replica-drop) replica_drop ;;
  *) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
