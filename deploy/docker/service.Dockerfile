# One image per service, e.g. `deploy/docker/images.sh` builds
#   docker build --build-arg SERVICE=content -f deploy/docker/service.Dockerfile .
# It holds that service's package, the shared libs and their locked dependencies (uv.lock), nothing
# else, and runs as an unprivileged user. Content's also has ffprobe: it reads an upload's real
# duration and resolution instead of trusting the client's.
ARG PYTHON_IMAGE=cuepoint/python:local
ARG BUILD_IMAGE=cuepoint/python-build:local

FROM ${BUILD_IMAGE} AS build
ARG SERVICE
RUN test -n "$SERVICE" || (echo "build with --build-arg SERVICE=<identity|content|assessment|progress|analytics>" && false)
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY libs ./libs
COPY services ./services
RUN --mount=type=secret,id=ca,required=false \
    if [ -s /run/secrets/ca ]; then export SSL_CERT_FILE=/run/secrets/ca; fi \
 && uv sync --frozen --no-dev --no-editable --package "cuepoint-${SERVICE}"

FROM ${PYTHON_IMAGE}
ARG SERVICE
RUN if [ "$SERVICE" = content ]; then \
      apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg \
      && rm -rf /var/lib/apt/lists/*; fi
ENV SERVICE=${SERVICE} PATH=/app/.venv/bin:$PATH CUEPOINT_HTTP_HOST=0.0.0.0 CUEPOINT_METRICS_HOST=0.0.0.0 NO_GCE_CHECK=True
COPY --from=build /app/.venv /app/.venv
USER 10001
WORKDIR /app
# `docker run IMAGE api|worker|relay|migrate|--help`
ENTRYPOINT ["/bin/sh", "-c", "exec python -m \"cuepoint.$SERVICE\" \"$@\"", "--"]
CMD ["api"]
