#!/usr/bin/env bash
# Installs what is missing, then runs every check CI runs: formatting, clippy with
# warnings as errors, and the whole test suite (unit tests without EAL, then the
# integration tests that start the real dataplane and traffic tool as separate processes).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
for c in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
done

cargo fmt --all --check
cargo clippy --workspace --all-targets -q -- -D warnings
# Integration tests run busy pollers; cargo runs test binaries one after another, and the
# tests inside a binary take a lock, so at most one dataplane and one guest poll at a time.
cargo test --workspace
