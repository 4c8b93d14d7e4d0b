# syntax=docker/dockerfile:1
# One image per service: `docker build --build-arg SERVICE=content -f deploy/docker/service.Dockerfile .`
# The image holds that service's package, the shared libs and their dependencies, nothing else.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG SERVICE
RUN test -n "$SERVICE" || (echo "build with --build-arg SERVICE=<identity|content|assessment|progress|analytics>" && false)
ENV UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY libs ./libs
COPY services ./services
RUN uv sync --frozen --no-dev --no-editable --package "cuepoint-${SERVICE}"

FROM ${PYTHON_IMAGE}
ARG SERVICE
ENV SERVICE=${SERVICE} PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 CUEPOINT_HTTP_HOST=0.0.0.0
COPY --from=build /app/.venv /app/.venv
RUN useradd --system --uid 10001 cuepoint
USER 10001
# `docker run IMAGE api|worker|relay|migrate|--help`
ENTRYPOINT ["/bin/sh", "-c", "exec python -m \"cuepoint.$SERVICE\" \"$@\"", "--"]
CMD ["api"]
