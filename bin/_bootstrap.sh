# Sourced by the scripts in bin/: finds a Python >= 3.12, gets uv, and syncs .venv from uv.lock.
# Everything it installs lives inside the checkout (.tools/ and .venv/), so removing the folder removes it.

MUSUBI_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
UV_VERSION="0.13.9"

find_python() {
  local candidate
  for candidate in "${MUSUBI_PYTHON:-}" python3.13 python3.12 \
      "$HOME"/.pyenv/versions/3.1[2-9]*/bin/python3 /usr/local/bin/python3.1[2-9] /usr/bin/python3.1[2-9] python3; do
    [ -n "$candidate" ] || continue
    command -v "$candidate" >/dev/null 2>&1 || [ -x "$candidate" ] || continue
    # Print the interpreter's real path: a pyenv shim may resolve differently from another folder.
    if "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
      "$candidate" -c 'import sys; print(sys.executable)'
      return 0
    fi
  done
  return 1
}

bootstrap_environment() {
  cd "$MUSUBI_ROOT" || exit 1
  local python
  if ! python="$(find_python)"; then
    echo "Musubi needs Python 3.12 or newer, and none was found." >&2
    echo "Install one (Debian: apt-get install python3.12, or pyenv install 3.12) or set MUSUBI_PYTHON=/path/to/python3.12." >&2
    exit 1
  fi
  if [ ! -x .tools/bin/uv ]; then
    echo "==> installing uv ${UV_VERSION} into .tools/"
    "$python" -m venv .tools && .tools/bin/pip install --quiet --disable-pip-version-check "uv==${UV_VERSION}" || {
      echo "Could not install uv from PyPI." >&2; exit 1; }
  fi
  export UV_PYTHON="$python" UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT="$MUSUBI_ROOT/.venv"
  echo "==> syncing .venv from uv.lock (Python: $python)"
  .tools/bin/uv sync --frozen --quiet "$@" || { echo "uv sync failed." >&2; exit 1; }
}

# Install Debian packages, as root or through sudo.
apt_install() {
  local runner=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "Need root or sudo to install: $*" >&2; exit 1; }
    runner=(sudo)
  fi
  echo "    installing Debian packages: $*"
  "${runner[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${runner[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

postgres_binaries() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

# Set PG_URL to a PostgreSQL to use: DATABASE_URL if set; else the server on 127.0.0.1:5432 if one answers;
# else a throw-away server started on 127.0.0.1:55432 (installing Debian's postgresql if needed) and removed
# when the calling script exits.
ensure_postgres() {
  can_connect() { .venv/bin/python -c "import psycopg, sys; psycopg.connect(sys.argv[1], connect_timeout=3).close()" "$1" 2>/dev/null; }
  if [ -n "${DATABASE_URL:-}" ]; then
    PG_URL="$DATABASE_URL"
    return
  fi
  local probe="${MUSUBI_PG_PROBE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
  if can_connect "$probe"; then
    PG_URL="${probe%/*}/musubi"
    return
  fi
  [ -n "$(postgres_binaries)" ] || apt_install postgresql
  local bin; bin=$(postgres_binaries)
  MUSUBI_THROWAWAY_PG=$(mktemp -d /tmp/musubi-pg.XXXXXX)
  # initdb refuses to run as root: as root, run the server as the postgres user; otherwise as ourselves.
  MUSUBI_PG_AS=()
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$MUSUBI_THROWAWAY_PG"; MUSUBI_PG_AS=(runuser -u postgres --); fi
  trap '"${MUSUBI_PG_AS[@]}" "'"$bin"'/pg_ctl" -D "$MUSUBI_THROWAWAY_PG/data" -m immediate stop >/dev/null 2>&1; rm -rf "$MUSUBI_THROWAWAY_PG"' EXIT
  "${MUSUBI_PG_AS[@]}" "$bin/initdb" -D "$MUSUBI_THROWAWAY_PG/data" -U app -A trust -E UTF8 --no-sync >/dev/null
  "${MUSUBI_PG_AS[@]}" "$bin/pg_ctl" -D "$MUSUBI_THROWAWAY_PG/data" -l "$MUSUBI_THROWAWAY_PG/log" -w start \
    -o "-c listen_addresses=127.0.0.1 -p 55432 -k $MUSUBI_THROWAWAY_PG -c fsync=off -c synchronous_commit=off" >/dev/null
  PG_URL="postgresql://app@127.0.0.1:55432/musubi"
  echo "    started a throw-away PostgreSQL on 127.0.0.1:55432"
}
