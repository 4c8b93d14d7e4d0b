# Prometheus (Debian's package, as `make up` runs it) with the platform's rules and the compose network's
# scrape configuration (deploy/docker/prometheus.yml), and Debian's prometheus-postgres-exporter with
# make infra's queries: docker-compose.yml runs this image twice, as `prometheus` and `postgres-exporter`.
ARG BASE_IMAGE=cuepoint/base:bookworm
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus prometheus-postgres-exporter \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /prometheus && chown prometheus:prometheus /prometheus
COPY deploy/prometheus/alerts.yml deploy/prometheus/postgres-queries.yaml deploy/docker/prometheus.yml /etc/cuepoint/
USER prometheus
EXPOSE 9090
VOLUME /prometheus
ENTRYPOINT ["prometheus", "--config.file=/etc/cuepoint/prometheus.yml", "--storage.tsdb.path=/prometheus", \
            "--storage.tsdb.retention.time=7d", "--web.listen-address=0.0.0.0:9090"]
