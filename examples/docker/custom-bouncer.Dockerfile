# A bouncer for the compose example: Debian's crowdsec-custom-bouncer, which pulls decisions in stream mode every
# few seconds (so its last pull moves) and runs /bin/true for each decision. Built by examples/docker-compose.yml.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends crowdsec-custom-bouncer ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY custom-bouncer.yaml /etc/crowdsec/bouncers/crowdsec-custom-bouncer.yaml
USER nobody
ENTRYPOINT ["/usr/bin/crowdsec-custom-bouncer", "-c", "/etc/crowdsec/bouncers/crowdsec-custom-bouncer.yaml"]
