# traceledger — container image (multi-stage; runs as a non-root user).
#
#   docker build -t traceledger .
#   docker run --rm traceledger verify --help
#
# The build stage compiles the one binary (RocksDB and librdkafka are
# built from source: libclang for RocksDB's bindings, make and a C++
# compiler for librdkafka). The runtime stage holds only that binary, CA
# certificates (TLS to brokers and registries) and curl (health checks of
# docker-compose.yml). No Docker engine runs on our build machines: the
# test suite checks this file's shape (tests/deploy/check.py), not a build.

FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libclang-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p traceledger-cli \
 && install -m 0755 target/release/traceledger /usr/local/bin/traceledger

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 traceledger \
 && useradd --system --uid 10001 --gid traceledger --home-dir /data --shell /usr/sbin/nologin traceledger \
 && install -d -o traceledger -g traceledger -m 0700 /data
COPY --from=build /usr/local/bin/traceledger /usr/local/bin/traceledger
USER 10001:10001
WORKDIR /data
ENV TRACELEDGER_DATA=/data \
    TRACELEDGER_LOG_FORMAT=json \
    RUST_LOG=info
VOLUME ["/data"]
EXPOSE 7070 7071
ENTRYPOINT ["/usr/local/bin/traceledger"]
CMD ["--help"]
