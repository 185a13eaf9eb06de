# crowdsec-bouncer-exporter container image, node_exporter style: the image copies a binary built outside, so the
# image build needs no Rust toolchain and no network but Debian's mirror (for ca-certificates).
#   cargo build --release --locked && docker build -t crowdsec-bouncer-exporter .
# The build context holds only that binary and LICENSE (.dockerignore). BINARY picks another build
# (e.g. target/x86_64-unknown-linux-gnu/release/crowdsec-bouncer-exporter); BASE another Debian 12 image.
# scripts/check-image.sh builds this with podman and runs its entrypoint on a read-only CrowdSec database (CI).
#
# User: 65534:65534 (nobody:nogroup), no capability needed. It must READ CrowdSec's database and the folder holding
# it (x): CrowdSec creates crowdsec.db 0640 root:root. Either give the file a group the container runs in
# (`chgrp crowdsec crowdsec.db*; chmod g+r ...` and `--user 65534:<that gid>` or `--group-add <gid>`), or run as
# uid 0 with every capability dropped and read-only mounts (examples/docker-compose.yml). Mount CrowdSec's config and
# data folders READ-ONLY; SQLite is opened read-only and nothing is written.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
ARG BINARY=target/release/crowdsec-bouncer-exporter
# The release's version (Cargo.toml's; .github/workflows/release.yml and scripts/check-image.sh pass it).
ARG VERSION=dev
# OCI annotations (checked by scripts/check-image.sh against Cargo.toml).
LABEL org.opencontainers.image.title="crowdsec-bouncer-exporter" \
      org.opencontainers.image.description="Prometheus exporter that tells, within one scrape, that a CrowdSec bouncer stopped pulling decisions, and why" \
      org.opencontainers.image.source="https://github.com/crowdsec-bouncer-exporter/crowdsec-bouncer-exporter" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT"
# CA certificates for the Service API (HTTPS); the LAPI's database TLS trusts only the CA it is given.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
COPY LICENSE /usr/share/doc/crowdsec-bouncer-exporter/LICENSE
COPY ${BINARY} /usr/bin/crowdsec-bouncer-exporter
USER 65534:65534
EXPOSE 10423
ENTRYPOINT ["/usr/bin/crowdsec-bouncer-exporter"]
