#!/usr/bin/env bash
# Installs what the image test (test/image) needs to RUN the image: podman
# and runc, from Debian's packages, when missing. `make test` calls it.
# Building the image needs neither (hack/image is pure Go).
#
# As root with apt-get it installs; otherwise it says what is missing and
# exits 0, and the test skips running the image (with that message). Under
# CI (CI set) a failed install fails: a green CI must have run the image.
set -euo pipefail

log() { echo "hack/image/runtime.sh: $*" >&2; }

missing=()
command -v podman >/dev/null || missing+=(podman)
command -v runc >/dev/null || missing+=(runc)
[[ ${#missing[@]} -eq 0 ]] && exit 0

fail() {
  log "$*"
  if [[ -n ${CI:-} ]]; then exit 1; fi
  log "the image test will build and inspect the image but not run it"
  exit 0
}

if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
  fail "missing ${missing[*]}: install them (Debian: apt-get install podman runc)"
fi
log "installing ${missing[*]} (apt-get)"
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq "${missing[@]}"; } >/tmp/raypilot-image-runtime.log 2>&1; then
  tail -20 /tmp/raypilot-image-runtime.log >&2
  fail "apt-get install ${missing[*]} failed"
fi
