# Sourced by ./run and the other scripts: puts Node 24 and pnpm first on PATH,
# installing them from the npm registry into a tools folder when missing.
# The machine's Node 20 is end-of-life; our dependencies need Node >= 22.
# No `set -e` here: a sourced file would switch it on in the caller's interactive shell
# (which then exits on the first failing command); each install step returns on failure.
BATCHSQL_TOOLS="${BATCHSQL_TOOLS:-$HOME/.cache/batchsql-tools}"
# The npm package node@24 carries the binary in node-linux-<arch>.
case "$(uname -m)" in
  aarch64 | arm64) NODE_ARCH=arm64 ;;
  *) NODE_ARCH=x64 ;;
esac
NODE_DIR="$BATCHSQL_TOOLS/node/node_modules/node/node_modules/node-linux-$NODE_ARCH"
PNPM_DIR="$BATCHSQL_TOOLS/pnpm/node_modules/.bin"
if [ ! -x "$NODE_DIR/bin/node" ] && ! command -v npm >/dev/null 2>&1; then
  # A machine without any Node: Debian's npm (and its Node) only to fetch node@24.
  echo "tools: installing npm from Debian to fetch node@24" >&2
  if [ "$(id -u)" = 0 ]; then _sudo=""; else _sudo="sudo"; fi
  $_sudo apt-get update -qq >&2 || return 1
  DEBIAN_FRONTEND=noninteractive $_sudo apt-get install -y -qq --no-install-recommends npm >&2 || return 1
fi
if [ ! -x "$NODE_DIR/bin/node" ]; then
  echo "tools: installing node@24 into $BATCHSQL_TOOLS/node" >&2
  mkdir -p "$BATCHSQL_TOOLS/node" || return 1
  npm install --prefix "$BATCHSQL_TOOLS/node" --no-audit --no-fund node@24 >&2 || return 1
fi
export PATH="$NODE_DIR/bin:$PATH"
# Native addons must build against Node 24's headers, not the machine default (Node 20).
export npm_config_nodedir="$NODE_DIR"
if [ ! -x "$PNPM_DIR/pnpm" ]; then
  echo "tools: installing pnpm@11.28.11 into $BATCHSQL_TOOLS/pnpm" >&2
  mkdir -p "$BATCHSQL_TOOLS/pnpm" || return 1
  npm install --prefix "$BATCHSQL_TOOLS/pnpm" --no-audit --no-fund pnpm@11.28.11 >&2 || return 1
fi
export PATH="$PNPM_DIR:$PATH"
