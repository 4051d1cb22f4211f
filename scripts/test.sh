#!/usr/bin/env bash
# Installs what is missing, then runs every check CI runs: formatting, clippy with
# warnings as errors, and the whole test suite (unit tests without EAL, then the
# integration tests that start the real dataplane and traffic tool as separate processes).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
# The tiny QEMU guest for dataplane/tests/qemu_guests.rs (installs qemu-system-x86 and what
# else it needs; does nothing when the image is up to date). The tests look for it here
# (DP_QEMU_GUEST_DIR overrides) and fail, not skip, when it is missing.
bash scripts/qemu/build-guest.sh "${DP_QEMU_GUEST_DIR:-target/qemu-guest}"
for c in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
done

cargo fmt --all --check
cargo clippy --workspace --all-targets -q -- -D warnings
# Integration tests run busy pollers and QEMU guests; cargo runs test binaries one after
# another, and the tests inside a binary take a lock, so at most one dataplane and one set of
# guests run at a time.
cargo test --workspace
