# PostgreSQL 15 (Debian bookworm's, as `make infra` runs it). On first start with an empty data volume
# the cluster is initialised with POSTGRES_PASSWORD for the superuser "postgres" and password
# authentication for every network client; arguments are passed to the server (-c name=value).
ARG BASE_IMAGE=cuepoint/base:bookworm
FROM ${BASE_IMAGE}
# update-alternatives links man pages; the base (like Debian's slim images) has no man directories.
RUN mkdir -p /usr/share/man/man1 /usr/share/man/man7 \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/postgresql/data /run/postgresql \
 && chown -R postgres:postgres /var/lib/postgresql /run/postgresql
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data/pgdata
USER postgres
EXPOSE 5432
VOLUME /var/lib/postgresql/data
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint"]
