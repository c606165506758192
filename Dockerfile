# One image that runs Addax with its embedded PostgreSQL + PostGIS and Redis.
#   docker build -t addax .
#   docker run -p 8080:8080 -p 8081:8081 -p 2121:2121 -p 30000-30049:30000-30049 -v addax-data:/data addax
# NVIDIA GPU inference (CUDA; the host needs the NVIDIA Container Toolkit):
#   docker build --build-arg GPU=1 -t addax-gpu .
#   docker run --gpus all ... addax-gpu
FROM debian:bookworm-slim

# 0: the CPU onnxruntime of requirements.lock. 1: that wheel swapped for the `gpu` extra of pyproject.toml
# (onnxruntime-gpu with NVIDIA's CUDA and cuDNN wheels, so no system CUDA; pinned there, but not hash-locked).
ARG GPU=0

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
 && /app/.venv/bin/pip install --no-cache-dir --require-hashes -r requirements.lock \
 && if [ "$GPU" = "1" ]; then \
        /app/.venv/bin/pip uninstall -y onnxruntime \
     && /app/.venv/bin/pip install --no-cache-dir "$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["gpu"][0])')"; \
    elif [ "$GPU" != "0" ]; then echo "GPU must be 0 or 1, not $GPU" >&2; exit 1; fi
COPY addax ./addax
COPY migrations ./migrations
RUN /app/.venv/bin/pip install --no-cache-dir --no-deps --no-build-isolation -e /app

COPY config.toml /app/config.toml
ENV ADDAX_CONFIG=/app/config.toml \
    ADDAX_GENERAL_DATA_DIR=/data \
    ADDAX_MODELS_DIR=/data/models \
    PATH=/app/.venv/bin:$PATH
USER addax
VOLUME ["/data"]
EXPOSE 8080 8081 2121 30000-30049
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/api/health || exit 1
CMD ["addax", "run"]
