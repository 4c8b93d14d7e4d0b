# Apache Kafka, one KRaft node (broker and controller), from the jars `make infra` resolves from Maven
# Central (deploy/local/kafka/pom.xml; deploy/docker/images.sh puts them in this build's context) on
# Debian's Java 17. The broker's settings are deploy/local/kafka/server.properties', with two listeners:
# INTERNAL (kafka:9092, for the services) and EXTERNAL (advertised as KAFKA_EXTERNAL_ADVERTISED, for the
# data team on the host).
ARG BASE_IMAGE=cuepoint/base:bookworm
FROM ${BASE_IMAGE}
# update-alternatives links man pages; the base (like Debian's slim images) has no man directories.
RUN mkdir -p /usr/share/man/man1 /usr/share/man/man7 \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openjdk-17-jre-headless \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10002 --home-dir /var/lib/kafka --shell /usr/sbin/nologin kafka \
 && mkdir -p /var/lib/kafka/data && chown -R kafka:kafka /var/lib/kafka
COPY libs /opt/kafka/libs
COPY agent /opt/kafka/agent
COPY log4j2.yaml server.properties jmx-exporter.yaml /opt/kafka/config/
COPY kafka-entrypoint.sh /usr/local/bin/kafka-entrypoint
USER kafka
# KAFKA_METRICS_PORT: the Prometheus JMX exporter agent's (make infra's configuration); 0 turns it off.
ENV KAFKA_HEAP=768m KAFKA_EXTERNAL_ADVERTISED=127.0.0.1:29092 KAFKA_METRICS_PORT=9404
EXPOSE 9092 29092 9404
VOLUME /var/lib/kafka/data
ENTRYPOINT ["/usr/local/bin/kafka-entrypoint"]
