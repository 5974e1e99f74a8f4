#!/usr/bin/env bash
# Installs what `make run` (mode "run") or `make test` (mode "test") needs and is missing.
# Mode "sandbox" (`make run`, after the Python deps): a working sandbox for jobs, see below.
# Safe to re-run: it only calls apt-get/pip when something is absent.
set -euo pipefail
mode="${1:-run}"
missing=()

have() { command -v "$1" >/dev/null 2>&1; }
apt_install() {
  echo "bootstrap: installing $*"
  if [ "$(id -u)" -ne 0 ]; then
    sudo=sudo
  else
    sudo=
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@"
}

if [ "$mode" = sandbox ]; then
  # `nimbus sandbox prepare` chooses the sandbox the server will choose and readies it (the
  # Docker image when an engine answers, else bubblewrap); exit 3 names Debian packages it needs.
  needs=$(mktemp)
  trap 'rm -f "$needs"' EXIT
  for attempt in 1 2; do
    status=0
    uv run nimbus sandbox prepare --missing-file "$needs" || status=$?
    if [ "$status" -ne 3 ] || [ "$attempt" -eq 2 ]; then
      exit "$status"
    fi
    read -r -a packages < "$needs"
    apt_install "${packages[@]}"
  done
fi
want_cmd() { have "$1" || missing+=("$2"); }
want_file() { compgen -G "$1" >/dev/null || missing+=("$2"); }

want_cmd node nodejs
want_cmd npm npm
want_cmd git git
want_cmd make make
if [ "$mode" = test ]; then
  want_file '/usr/lib/postgresql/*/bin/postgres' postgresql
  want_cmd dockerd docker.io
  want_cmd debootstrap debootstrap
  want_cmd bwrap bubblewrap
  want_file /usr/bin/chromium chromium
  # tests/test_deploy.py validates docker-compose.yml with the real Compose CLI
  have docker-compose || docker compose version >/dev/null 2>&1 || missing+=(docker-compose)
fi

if [ ${#missing[@]} -gt 0 ]; then
  apt_install "${missing[@]}"
fi

if ! have uv && [ ! -x "$HOME/.local/bin/uv" ]; then
  echo "bootstrap: installing uv from PyPI"
  python3 -m pip install --user --quiet uv 2>/dev/null \
    || python3 -m pip install --user --quiet --break-system-packages uv
fi
