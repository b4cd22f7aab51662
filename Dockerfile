# The datafabric server. Data (uploads, blobs, and the embedded graph when no Neo4j is configured) in /data.

# The portal's static files, built from portal/ with the versions its package-lock.json pins.
FROM node:20-slim AS portal
WORKDIR /build
COPY portal/package.json portal/package-lock.json portal/build.mjs ./portal/
COPY portal/src ./portal/src
RUN npm ci --prefix portal --no-audit --no-fund && npm run --prefix portal build

FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY fabric ./fabric
COPY tus_server ./tus_server
COPY aspects ./aspects
COPY schemas ./schemas
COPY --from=portal /build/fabric/portal/static ./fabric/portal/static
RUN pip install --no-cache-dir . && useradd --system --home /data fabric && mkdir -p /data && chown fabric /data

USER fabric
ENV FABRIC_HOST=0.0.0.0 FABRIC_PORT=8000 FABRIC_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz')"
CMD ["fabric", "serve"]
