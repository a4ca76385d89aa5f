#!/usr/bin/env bash
# Makes sure Debian's Chromium (and a font) is installed for the console's browser tests and
# `npm run bench:console`: Playwright drives it through executablePath instead of downloading
# a browser of its own. Idempotent; prints the browser's path.
set -euo pipefail

browser=${CHROMIUM_PATH:-/usr/bin/chromium}
if [[ ! -x "$browser" ]] || ! fc-list 2>/dev/null | grep -q .; then
  as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
      echo "ensure-chromium: need root to run: $*" >&2; return 1
    fi
  }
  command -v apt-get >/dev/null || { echo "ensure-chromium: no apt-get; install Chromium and set CHROMIUM_PATH" >&2; exit 1; }
  echo "ensure-chromium: installing chromium" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
echo "$browser"
