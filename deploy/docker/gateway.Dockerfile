# The gateway: Debian's nginx with the web client's build (web/dist, from `make web`) and
# deploy/docker/gateway.conf, which routes /api/<service>/ to the APIs and /storage/ to the emulator;
# deploy/docker/gateway-nginx.conf is the main configuration (the local gateway's connection limits).
ARG BASE_IMAGE=cuepoint/base:bookworm
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx-light \
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/default \
 && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log \
 && mkdir -p /etc/nginx/main.d && echo 'worker_processes auto;' >/etc/nginx/main.d/workers.conf
COPY deploy/docker/gateway-nginx.conf /etc/nginx/nginx.conf
COPY deploy/docker/gateway.conf /etc/nginx/conf.d/cuepoint.conf
COPY web/dist /usr/share/cuepoint/web
EXPOSE 8080
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
