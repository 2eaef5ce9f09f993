#!/usr/bin/env bash
# The Debian packages the test suite needs, installed when missing. Used by `make test` and `.ci/run`.
#   As root: installs what is missing (apt-get, non-interactive; `apt-get update` only when the package
#   lists are absent or do not know a missing package, or when an install from them fails).
#   Otherwise: prints the exact command to run and exits with status 1.
#   --list prints the packages, one a line, and exits.
set -euo pipefail

PACKAGES=(
  make               # the two commands
  python3-venv       # `make venv` with Debian's python3
  chromium           # browser tests (Playwright drives Debian's Chromium)
  espeak-ng          # speech synthesised for the transcription tests
  sox                # audio fixtures
  ffmpeg             # probing, conversion and redacted audio
  poppler-utils      # pdftotext reads PDF exports back
  fonts-dejavu-core  # Latin glyphs in PDF exports
  fonts-hosny-amiri  # Arabic glyphs in PDF exports
  postgresql         # the database tests on PostgreSQL
  redis-server       # a Redis for the broker tests
  jing               # validates TEI exports against their RELAX NG schema
  gettext            # compilemessages builds the Arabic interface catalogue (archive/locale)
)

if [ "${1:-}" = "--list" ]; then
  printf '%s\n' "${PACKAGES[@]}"
  exit 0
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "system packages: this script knows Debian packages only; install the equivalents of:" >&2
  echo "  ${PACKAGES[*]}" >&2
  exit 1
fi

missing=()
for package in "${PACKAGES[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null)" != "install ok installed" ]; then
    missing+=("$package")
  fi
done
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" != "0" ]; then
  echo "system packages missing: ${missing[*]}" >&2
  echo "install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
lists_know_them() {
  local package
  for package in "${missing[@]}"; do
    apt-cache show --no-all-versions "$package" >/dev/null 2>&1 || return 1
  done
}
echo "system packages: installing ${missing[*]}"
if ! lists_know_them; then
  apt-get update -q
fi
install() { apt-get install -y -q --no-install-recommends "${missing[@]}"; }
if ! install; then
  # Package lists older than the mirror name files it no longer has: refresh them once and retry.
  apt-get update -q
  install
fi
