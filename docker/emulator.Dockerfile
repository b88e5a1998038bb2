# stratus-emulator in a container: the daemon, the product functions' bootstrap and functions.zip,
# the default config that serves them, on Debian 12 and built with the project's own
# scripts/setup.sh (Debian packages only).
#
#   docker build -f docker/emulator.Dockerfile -t stratus-emulator .
#   docker run --rm -p 127.0.0.1:9001:9001 -v stratus-data:/var/lib/stratus stratus-emulator
#   docker run --rm -p 127.0.0.1:9001:9001 -v "$PWD:/app:ro" stratus-emulator --template /app/template.yaml
#
# Inside the container the daemon listens on all interfaces (--bind 0.0.0.0) so the published port
# reaches it; publish it on 127.0.0.1 as above unless the host's network is trusted (the emulator
# runs whatever code it is given and has no authentication unless SigV4 checking is on).

FROM debian:12 AS build
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src
COPY . /src
# setup.sh installs the missing Debian packages (we are root here) and builds the release preset;
# CI=true builds with -Werror as CI does.
RUN CI=true bash scripts/setup.sh release \
 && rm -rf /var/lib/apt/lists/*
# The installed layout mirrors the build tree (bin/, share/stratus/, functions/stratus/), so the
# default config's relative code_dir resolves the same way in both.
RUN set -eu; \
    prefix=/opt/stratus; \
    install -D -m 0755 build/release/bin/stratus-emulator "$prefix/bin/stratus-emulator"; \
    install -D -m 0644 build/release/share/stratus/emulator.json "$prefix/share/stratus/emulator.json"; \
    install -D -m 0755 build/release/functions/stratus/bootstrap "$prefix/functions/stratus/bootstrap"; \
    install -D -m 0644 build/release/functions/functions.zip "$prefix/functions/functions.zip"; \
    # The Debian packages that hold the daemon's shared libraries: the runtime stage installs them.
    ldd "$prefix/bin/stratus-emulator" | awk '/=> \//{print $3}' | while read -r lib; do \
      real="$(readlink -f "$lib")"; \
      dpkg -S "$real" 2>/dev/null || dpkg -S "${real#/usr}" 2>/dev/null || { echo "no package owns $lib" >&2; exit 1; }; \
    done | cut -d: -f1 | sort -u > "$prefix/share/stratus/runtime-packages.txt"; \
    cat "$prefix/share/stratus/runtime-packages.txt"

FROM debian:12
ENV DEBIAN_FRONTEND=noninteractive
COPY --from=build /opt/stratus /opt/stratus
# curl: the HEALTHCHECK, and custom runtimes written in bash + curl (as AWS's tutorial builds them).
# hadolint ignore=DL3008
RUN apt-get update -q \
 && xargs -a /opt/stratus/share/stratus/runtime-packages.txt \
      apt-get install -y -q --no-install-recommends curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 stratus \
 && useradd --uid 10001 --gid stratus --no-create-home --home-dir /var/lib/stratus --shell /usr/sbin/nologin stratus \
 && install -d -o stratus -g stratus -m 0750 /var/lib/stratus
# The data directory (functions deployed through the API, the async event journal, S3 objects,
# logs): a volume, so it outlives the container.
VOLUME ["/var/lib/stratus"]
USER stratus
WORKDIR /var/lib/stratus
EXPOSE 9001
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:9001/healthz"]
# Not root, so the sandbox runs functions as this user without a private mount namespace and the
# limits fall back to what the container allows; the daemon logs both ("sandbox: ...",
# "resource limits: ..."). Extra arguments (e.g. --template FILE, --log-level debug) follow these.
ENTRYPOINT ["/opt/stratus/bin/stratus-emulator", "--bind", "0.0.0.0", "--port", "9001", "--data-dir", "/var/lib/stratus"]
