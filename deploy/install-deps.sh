#!/usr/bin/env bash
# Installs the Debian 12 packages that building and testing Yoban need.
# Idempotent and quiet: it installs only what is missing, and says nothing when all is there.
# Everything else in the project (quickstart, tests, CI) calls it; nothing assumes a package.
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config clang libclang-rt-14-dev
  # libraries Yoban links (each behind one wrapper file, see docs/dependencies.md)
  libpq-dev libyaml-dev libssh2-1-dev libzstd-dev libjansson-dev libsodium-dev
  # backups: tar (pax) written and read by runner/steps/archive_io.c
  libarchive-dev
  # SHA-256 with the CPU's SHA instructions (common/digest.c); libssh2 links libcrypto already
  libssl-dev
  # libcurl (OpenSSL flavour): the smtp and webhook notice channels (scheduler/notify/http.c)
  libcurl4-openssl-dev
  # unit tests
  check
  # integration tests: a real PostgreSQL and a real sshd, started by the tests themselves
  postgresql-15 postgresql-client-15 openssh-server openssh-client
  # the off-site copy tests and benchmark: the SFTP server their sshd runs
  openssh-sftp-server
  # schema tests and the croniter baseline of the cron benchmark (Debian's python3)
  python3 python3-jsonschema python3-croniter python3-yaml
  # time zone data (TZif files) for the cron engine
  tzdata
  # tools the tests use
  procps psmisc util-linux coreutils
  # the CLI tests write zstd chunks as the daemon would (zstd command line tool)
  zstd
  # the daemon tests turn stored chunks (bytea hex) back into bytes to compare digests
  xxd
  # the notice tests deliver to a real SMTP server on loopback (python3 -m aiosmtpd)
  python3-aiosmtpd
  # the monthly report's test renders its HTML in headless Chromium (no element past the A4
  # width, a screenshot, a printed PDF), with a Japanese font for the labels
  chromium fonts-ipafont-gothic
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
((${#missing[@]} == 0)) && exit 0

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "install-deps: missing packages: ${missing[*]}" >&2
    echo "install-deps: run this script as root (or install sudo) to install them" >&2
    exit 1
  fi
else SUDO=; fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists yet; refresh them once.
$SUDO apt-get update -qq >/dev/null
# Packaged daemons (postgresql, sshd) must not be started by the install: tests start their own.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null && $SUDO chmod +x "$policy" && made_policy=1
fi
trap '[ "$made_policy" = 1 ] && $SUDO rm -f "$policy"' EXIT
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
