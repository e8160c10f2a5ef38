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
