# The Google Cloud Storage emulator `make infra` runs (PyPI's gcp-storage-emulator, the version in
# uv.lock), standing in for GCS; its data in /data. Production uses real GCS and no such image.
ARG PYTHON_IMAGE=cuepoint/python:local
ARG BUILD_IMAGE=cuepoint/python-build:local

FROM ${BUILD_IMAGE} AS build
ARG EMULATOR_VERSION
RUN --mount=type=secret,id=ca,required=false \
    if [ -s /run/secrets/ca ]; then export SSL_CERT_FILE=/run/secrets/ca; fi \
 && uv venv /opt/emulator && uv pip install --python /opt/emulator/bin/python "gcp-storage-emulator==${EMULATOR_VERSION:?}"

FROM ${PYTHON_IMAGE}
COPY --from=build /opt/emulator /opt/emulator
RUN mkdir /data && chown 10001 /data
USER 10001
WORKDIR /data
EXPOSE 9023
VOLUME /data
ENTRYPOINT ["/opt/emulator/bin/gcp-storage-emulator", "start", "--host=0.0.0.0", "--port=9023"]
CMD ["--default-bucket=cuepoint-media"]
