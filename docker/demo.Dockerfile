# Multi-stage build of one demo service (BIN = demo-gateway or demo-auth) from source, for the
# user-facing docker-compose.yml. Needs a registry (rust and debian images) and crates.io; on a
# machine without them, scripts/offline-images.sh builds equivalent images from host binaries.
FROM rust:1-bookworm AS build
ARG BIN
WORKDIR /src
COPY . .
RUN cargo build --release -p demo --bin "${BIN}" \
    && cp "target/release/${BIN}" /service

FROM debian:bookworm-slim
COPY --from=build /service /usr/local/bin/service
# No curl here: healthchecks test the TCP port with bash's /dev/tcp.
ENTRYPOINT ["/usr/local/bin/service"]
