# versitygw, the S3-compatible server of the production stack (docker-compose.yml), built as scripts/versitygw-prepare
# builds it for the tests: same version, posix backend.
FROM golang:1.24-bookworm AS build
RUN GOBIN=/out go install github.com/versity/versitygw/cmd/versitygw@v1.8.0

FROM debian:bookworm-slim
COPY --from=build /out/versitygw /usr/local/bin/versitygw
RUN mkdir -p /data
VOLUME ["/data"]
EXPOSE 7070
ENTRYPOINT ["versitygw", "--quiet", "--port", ":7070", "posix", "/data"]
