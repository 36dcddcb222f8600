# delivery-metrics container image: `delivery-metrics serve` as a non-root user.
#
#   docker build -t delivery-metrics .
#   docker run -p 9180:9180 \
#     -v $PWD/delivery-metrics.yaml:/etc/delivery-metrics/config.yaml:ro \
#     -e GITHUB_TOKEN=... delivery-metrics
#
# Config: /etc/delivery-metrics/config.yaml (DELIVERY_METRICS_CONFIG), mounted read-only. Secrets:
# `${ENV_VAR}` or `${file:/run/secrets/NAME}` references inside it, filled from the environment or
# from mounted secret files; never baked into the image. Schema migrations: run
# `docker run ... delivery-metrics db upgrade` once per release (compose and Helm do it for you).

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY collector ./collector
COPY connectors ./connectors
COPY metrics ./metrics
RUN python -m venv /opt/delivery-metrics \
    && /opt/delivery-metrics/bin/pip install . \
    && find /opt/delivery-metrics -name '__pycache__' -type d -prune -exec rm -rf {} +

FROM python:3.11-slim-bookworm
LABEL org.opencontainers.image.title="delivery-metrics" \
      org.opencontainers.image.description="DORA metrics per team, service and environment, exported to Prometheus" \
      org.opencontainers.image.licenses="Apache-2.0"
# git: the local `git` source reads repositories with the git command
RUN apt-get update \
    && apt-get install -y --no-install-recommends git=1:2.39.* \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 delivery-metrics \
    && useradd --system --uid 10001 --gid delivery-metrics --home-dir /var/lib/delivery-metrics \
       --create-home --shell /usr/sbin/nologin delivery-metrics
COPY --from=build /opt/delivery-metrics /opt/delivery-metrics
ENV PATH=/opt/delivery-metrics/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DELIVERY_METRICS_CONFIG=/etc/delivery-metrics/config.yaml
WORKDIR /var/lib/delivery-metrics
USER 10001:10001
EXPOSE 9180
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9180/healthz', timeout=4)"]
ENTRYPOINT ["delivery-metrics"]
CMD ["serve", "--host", "0.0.0.0", "--port", "9180"]
