# One image that runs Addax with its embedded PostgreSQL + PostGIS and Redis.
#   docker build -t addax .
#   docker run -p 8080:8080 -p 8081:8081 -p 2121:2121 -p 30000-30049:30000-30049 -v addax-data:/data addax
FROM debian:bookworm-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv postgresql-15 postgresql-15-postgis-3 \
        redis-server curl ca-certificates \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --system --create-home --home-dir /home/addax --shell /usr/sbin/nologin addax \
 && mkdir -p /data /app && chown addax:addax /data

WORKDIR /app
COPY pyproject.toml README.md requirements.lock ./
RUN python3 -m venv /app/.venv \
 && /app/.venv/bin/pip install --no-cache-dir pip==26.3 \
 && /app/.venv/bin/pip install --no-cache-dir --require-hashes -r requirements.lock
COPY addax ./addax
COPY migrations ./migrations
RUN /app/.venv/bin/pip install --no-cache-dir --no-deps --no-build-isolation -e /app

COPY config.toml /app/config.toml
ENV ADDAX_CONFIG=/app/config.toml \
    ADDAX_GENERAL_DATA_DIR=/data \
    PATH=/app/.venv/bin:$PATH
USER addax
VOLUME ["/data"]
EXPOSE 8080 8081 2121 30000-30049
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/api/health || exit 1
CMD ["addax", "run"]
