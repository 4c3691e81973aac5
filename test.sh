#!/usr/bin/env bash
# Runs every test of syncml-imap. On a fresh Debian machine it first
# installs what the tests need (Dovecot's IMAP server, the SyncEvolution
# client and gcc for its test shim, the DAV clients vdirsyncer and
# python3-caldav, Chromium for the web pages), with apt-get as
# root; it fails loudly when it cannot.
set -euo pipefail
cd "$(dirname "$0")"

die() { echo "test.sh: $*" >&2; exit 1; }

command -v go >/dev/null 2>&1 || die "Go is not installed (Go 1.26 or newer is needed: https://go.dev/dl/)"

# Debian package -> a command it provides.
need=()
command -v dovecot >/dev/null 2>&1 || need+=(dovecot-imapd)
command -v doveadm >/dev/null 2>&1 || need+=(dovecot-core)
command -v syncevolution >/dev/null 2>&1 || need+=(syncevolution)
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)   # builds the SyncEvolution curl shim
command -v vdirsyncer >/dev/null 2>&1 || need+=(vdirsyncer)  # CardDAV/CalDAV client
/usr/bin/python3 -c 'import caldav' >/dev/null 2>&1 || need+=(python3-caldav)  # CalDAV client library
command -v chromium >/dev/null 2>&1 || need+=(chromium)  # headless browser for the web pages

if [ ${#need[@]} -gt 0 ]; then
  echo "test.sh: installing ${need[*]}"
  if [ "$(id -u)" -eq 0 ]; then sudo=""
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"
  else die "missing ${need[*]} and no root: run as root, or: sudo apt-get install ${need[*]}"
  fi
  command -v apt-get >/dev/null 2>&1 || die "missing ${need[*]} and no apt-get: install them with your package manager"
  export DEBIAN_FRONTEND=noninteractive
  # The packaged service must not start (and grab port 143) in containers.
  $sudo apt-get update -qq || die "apt-get update failed"
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || die "apt-get install ${need[*]} failed"
  for c in dovecot syncevolution gcc vdirsyncer chromium; do
    command -v $c >/dev/null 2>&1 || die "$c still missing after installing ${need[*]}"
  done
  /usr/bin/python3 -c 'import caldav' >/dev/null 2>&1 || die "python3-caldav still missing after installing ${need[*]}"
fi
echo "test.sh: $(go version), dovecot $(dovecot --version)"

# Integration tests fail instead of skipping when a tool is missing.
export CI=true

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
[ -z "$unformatted" ] || die "gofmt would change: $unformatted"
go vet ./...
go test -count=1 -timeout 20m "$@" ./...
# The engine and the HTTP front serve many sessions at once: their tests
# run again under the race detector.
go test -race -count=1 -timeout 10m "$@" ./syncml/ ./plugin/ ./backup/
