# crowdsec-bouncer-exporter container image.
#   docker build -t crowdsec-bouncer-exporter .
# Run it next to CrowdSec with the CrowdSec config and data volumes mounted READ-ONLY (examples/docker-compose.yml).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
RUN cargo build --release --locked --bin crowdsec-bouncer-exporter

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/crowdsec-bouncer-exporter /usr/local/bin/crowdsec-bouncer-exporter
# CrowdSec's database is 0640 root:root in the CrowdSec image: reading it takes its owner (uid 0, no capability
# needed) or its group. The compose file runs this as uid 0 with every capability dropped and a read-only mount;
# override the user where the database is group-readable.
USER 65534:65534
EXPOSE 10423
ENTRYPOINT ["/usr/local/bin/crowdsec-bouncer-exporter"]
