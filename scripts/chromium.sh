#!/bin/sh
# Installs Debian's headless-capable Chromium for the dashboard test, if it is not there yet.
# Idempotent; needs root (CI and the dev container run as root). Exits non-zero if it cannot install.
set -eu
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "chromium.sh: $CHROMIUM is missing and installing it needs root (apt-get install chromium)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
[ -x "$CHROMIUM" ] || { echo "chromium.sh: apt-get finished but $CHROMIUM is still missing" >&2; exit 1; }
