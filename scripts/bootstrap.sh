# Sourced by ./lab and ./run-tests: installs what is missing on a Debian/Ubuntu machine
# (as root, or through sudo) and prepares the Python environment in .venv.
set -euo pipefail

HOTLINE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export HOTLINE_CACHE="${HOTLINE_CACHE:-/var/cache/hotline}"
VENV="${HOTLINE_VENV:-$HOTLINE_ROOT/.venv}"

# chromium: the console's browser tests (tests/browser) drive Debian's own build through playwright.
APT_PACKAGES=(redis-server sip-tester espeak-ng sox tcpdump debootstrap python3-venv python3-pip ca-certificates chromium)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "hotline: '$*' needs root (the lab builds a chroot and installs Debian packages)" >&2; exit 2
  fi
}

bootstrap() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  fi
  # redis-server's own service is not needed: the lab starts its own on a free port.
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating the Python environment in $VENV"
    python3 -m venv "$VENV"
  fi
  local stamp="$VENV/.hotline-installed"
  if [ ! -f "$stamp" ] || [ "$HOTLINE_ROOT/pyproject.toml" -nt "$stamp" ]; then
    say "installing hotline and its Python dependencies"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q -e "$HOTLINE_ROOT[test]"
    touch "$stamp"
  fi
  as_root mkdir -p "$HOTLINE_CACHE"
  say "Asterisk 22 sandbox (built once with debootstrap into $HOTLINE_CACHE, then reused)"
  as_root env HOTLINE_CACHE="$HOTLINE_CACHE" "$VENV/bin/python" -m hotline.lab.asterisk_sandbox
}
