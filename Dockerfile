# tern container image: build one static musl binary, ship it FROM scratch.
#
#   docker build -t tern .            (or: make image)
#   docker run -d -v tern-data:/data -p 25:25 -p 443:443 ... tern
#
# Stage 1 fetches the pinned Debian sources (vendor/build.sh), builds the
# static libraries and build/tern. Stage 2 holds nothing but /tern and an
# empty /data owned by the runtime user.

# ---------------------------------------------------------------- build
FROM debian:bookworm AS build

# Build tools. vendor/build.sh installs whatever it misses itself; listing
# them here keeps them in a cached layer. deb-src is enabled by build.sh.
# nodejs and npm build the web UI (web/, `npm ci` + Vite), which is embedded
# in the binary; the runtime image has no node.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential make binutils musl-tools dpkg-dev patch xz-utils \
        autoconf automake libtool file ca-certificates nodejs npm \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src

# Third-party libraries first: this layer is rebuilt only when vendor/ changes.
COPY vendor/ vendor/
RUN vendor/build.sh

# Then the rest of the tree (.dockerignore keeps out build/, data/,
# vendor/out/ and .git, so the libraries built above stay in place).
COPY . .
# No .git in the build context, so the Makefile cannot `git describe`:
# pass the version in, e.g. --build-arg TERN_VERSION=$(git describe --always --dirty)
ARG TERN_VERSION=unknown
RUN make -j"$(nproc)" build/tern VERSION="$TERN_VERSION" \
 && file build/tern | grep -Eq 'statically linked|static-pie linked' \
 && build/tern version \
 && mkdir -p /out \
 && cp build/tern /out/tern \
 && install -d -m 0700 -o 10025 -g 10025 /out/data

# ---------------------------------------------------------------- runtime
FROM scratch

COPY --from=build /out/tern /tern
# The data directory must be writable by the runtime user. A new named
# volume mounted on /data starts as a copy of this directory, ownership
# included. (A bind mount keeps the host directory's owner: chown it to
# 10025:10025 on the host.)
COPY --from=build --chown=10025:10025 /out/data /data

ENV TERN_DATA_DIR=/data
VOLUME /data

# SMTP, submission, submissions, IMAP, IMAPS, POP3, POP3S, ManageSieve,
# HTTP (ACME HTTP-01, redirect), HTTPS (web admin, JMAP, API).
EXPOSE 25 587 465 143 993 110 995 4190 80 443

# A numeric non-root user (scratch has no /etc/passwd). Binding ports < 1024
# still works: since Docker 20.10 containers get
# net.ipv4.ip_unprivileged_port_start=0 by default, so any user in the
# container's network namespace may bind low ports.
USER 10025:10025

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/tern", "health"]

ENTRYPOINT ["/tern"]
CMD ["serve"]
