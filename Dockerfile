# raypilot: one static binary (webhook, scaler, expand, plan), non-root, no
# shell, for users with a Docker engine:
#
#   make image-docker                # VERSION (the chart's appVersion), REVISION and SOURCE_DATE_EPOCH from git
#   docker build --build-arg VERSION=v0.1.0 -t raypilot/raypilot:v0.1.0 .
#
# `make image` builds the same image with no container engine (hack/image,
# pure Go, reproducible). KEEP THE TWO IN SYNC: the files come from the same
# generator (`hack/image rootfs`: the binary built with the same flags, the
# CA bundle, passwd/group, nsswitch.conf, /tmp), and USER, ENTRYPOINT, ENV
# and the LABELs below must match hack/image's (rootfs.go, build.go);
# test/image checks that they do. Only timestamps differ, so the digests do.
#
# Image references are written without a registry host: the engine's default
# registry (or your mirror) resolves them.
ARG GO_IMAGE=golang:1.26

FROM ${GO_IMAGE} AS build
WORKDIR /src
# Modules first (the product's and the image tool's), so source edits reuse
# the download layer.
COPY go.mod go.sum ./
COPY hack/image/go.mod hack/image/go.sum hack/image/
RUN go mod download && cd hack/image && go mod download
# Everything .dockerignore lets through (sources, no tests, the chart's
# Chart.yaml for its appVersion, hack/image).
COPY . .
# Empty: the chart's appVersion, as `make image` tags it.
ARG VERSION=
ARG SOURCE_DATE_EPOCH=0
RUN cd hack/image && SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH} \
      go run . rootfs --src /src --out /rootfs ${VERSION:+--version "${VERSION}"} \
 && /rootfs/raypilot version

FROM scratch
COPY --from=build /rootfs/ /
ARG VERSION=
ARG REVISION=
ARG SOURCE=https://github.com/raypilot/raypilot
LABEL org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR /
# Numeric, so runAsNonRoot can verify it without reading /etc/passwd.
USER 65532:65532
ENTRYPOINT ["/raypilot"]
