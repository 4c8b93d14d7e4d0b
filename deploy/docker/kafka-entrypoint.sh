#!/bin/sh
# Writes the broker's configuration (make infra's settings, the container's listeners), formats the
# storage on first start (KRaft, one node) and runs the broker in the foreground.
set -eu
DATA=/var/lib/kafka/data
CONF=/var/lib/kafka/server.properties
AGENT=""
[ "${KAFKA_METRICS_PORT:-0}" = 0 ] || AGENT="-javaagent:/opt/kafka/agent/jmx_prometheus_javaagent.jar=0.0.0.0:$KAFKA_METRICS_PORT:/opt/kafka/config/jmx-exporter.yaml"
run() { exec java -Xms256m -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true $AGENT \
  -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.yaml -cp '/opt/kafka/libs/*' "$@"; }
tool() { java -Xmx256m -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.yaml -cp '/opt/kafka/libs/*' "$@"; }
grep -vE '^(listeners|advertised\.listeners|listener\.security\.protocol\.map|inter\.broker\.listener\.name|controller\.quorum\.bootstrap\.servers|log\.dirs)=' \
  /opt/kafka/config/server.properties >"$CONF"
cat >>"$CONF" <<PROPS
listeners=INTERNAL://0.0.0.0:9092,EXTERNAL://0.0.0.0:29092,CONTROLLER://127.0.0.1:9093
advertised.listeners=INTERNAL://${KAFKA_INTERNAL_ADVERTISED:-kafka:9092},EXTERNAL://${KAFKA_EXTERNAL_ADVERTISED}
listener.security.protocol.map=CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT
inter.broker.listener.name=INTERNAL
controller.quorum.bootstrap.servers=127.0.0.1:9093
log.dirs=$DATA
PROPS
if [ ! -f "$DATA/meta.properties" ]; then
  tool kafka.tools.StorageTool format -t "$(tool kafka.tools.StorageTool random-uuid)" -c "$CONF" --standalone
fi
[ "${1:-}" = "" ] || exec "$@"
run kafka.Kafka "$CONF"
