# Sourced by the install scripts: run a command as root (directly or with sudo) and install
# Debian packages with apt-get, updating the package lists once per script run.

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "$(basename "$0"): need root to run: $*" >&2; return 1
  fi
}

apt_updated=0
apt_update_once() {
  if [[ $apt_updated -eq 0 ]]; then as_root apt-get update -qq; apt_updated=1; fi
}

apt_install() {
  command -v apt-get >/dev/null || { echo "$(basename "$0"): no apt-get; install $* by hand" >&2; return 1; }
  apt_update_once
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
