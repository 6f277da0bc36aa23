# Beacon in a container: docs/deploy.md. Built from Debian's Python image and PyPI only.
#   docker build -t beacon .
#   docker run -d -p 127.0.0.1:8080:8080 -v beacon-data:/data -e BEACON_BASE_URL=https://status.example.com beacon
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# a dedicated user without a login shell; its uid/gid are fixed so that bind-mounted data folders can be prepared
RUN groupadd --system --gid 10001 beacon \
    && useradd --system --uid 10001 --gid beacon --home-dir /data --no-create-home --shell /usr/sbin/nologin beacon

WORKDIR /app
COPY pyproject.toml README.md main.py ./
COPY app ./app
COPY pages ./pages
COPY monitors ./monitors
COPY storage ./storage
# PyPI only (--index-url overrides any mirror configured in the build environment). Every dependency is a binary
# wheel for this image except http-ece, which is pure Python and builds from its sdist: no compiler needed.
RUN pip install --index-url https://pypi.org/simple . \
    && python -m compileall -q /app \
    && mkdir -p /data && chown beacon:beacon /data

ENV BEACON_HOST=0.0.0.0 \
    BEACON_PORT=8080 \
    BEACON_DATA_DIR=/data
VOLUME /data
EXPOSE 8080
USER beacon

# /healthz answers 200 when the database answers; urlopen raises (exit status 1) on 503 or no answer
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('BEACON_PORT', '8080'), timeout=4)"]

# uvicorn stops gracefully on SIGTERM (docker stop); give it 15 s (compose: stop_grace_period)
STOPSIGNAL SIGTERM
CMD ["python", "main.py"]
