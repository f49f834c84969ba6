#!/usr/bin/env bash
# npm run test:compat: builds the previous release (the commit in compat/PREVIOUS, or $1) in a
# temp dir and runs test/compat/mixed-version.ts with old and new daemons side by side.
# Needs the git history of this clone and the npm registry (npm ci in the old tree).
set -euo pipefail
cd "$(dirname "$0")/.."
rev="${1:-$(cat compat/PREVIOUS)}"
old="$(mktemp -d "${TMPDIR:-/tmp}/pigeon-prev-XXXXXX")"
trap 'rm -rf "$old"' EXIT
echo "compat: building the previous release ${rev} in ${old}" >&2
git archive "$rev" | tar -x -C "$old"
(cd "$old" && npm ci --no-audit --no-fund && npm run build) >&2
npm run build >&2
PIGEON_PREV_BIN="$old/dist/cli/pigeon.js" PIGEON_PREV_REV="$rev" \
  node --test --test-timeout=180000 dist/test/compat/mixed-version.js
