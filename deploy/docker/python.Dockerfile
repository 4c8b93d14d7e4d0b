# The Python 3.11 runtime every Cuepoint service image runs on (target runtime: Debian's python3 and
# nothing else), and the image their virtual environments are built in (target build: + uv from PyPI).
# BASE_IMAGE: cuepoint/base:bookworm (debootstrap, deploy/docker/images.sh) or debian:bookworm-slim.
ARG BASE_IMAGE=cuepoint/base:bookworm

FROM ${BASE_IMAGE} AS runtime
# ca-certificates: the services reach real GCS, SMTP and AI providers over TLS in production.
# tzdata: PostgreSQL's and Python's time zone names agree.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin cuepoint
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 LANG=C.UTF-8

FROM runtime AS build
ARG UV_VERSION=0.13.9
# uv from PyPI, through pip. The registry's CA bundle comes as a build secret when the host needs one
# (deploy/docker/images.sh), and is not kept in the image.
RUN --mount=type=secret,id=ca,required=false \
    apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-pip \
 && rm -rf /var/lib/apt/lists/* \
 && if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi \
 && pip install --no-cache-dir --break-system-packages "uv==${UV_VERSION}"
ENV UV_PYTHON_DOWNLOADS=never UV_PYTHON=/usr/bin/python3.11 UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
