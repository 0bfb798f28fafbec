#!/usr/bin/env bash
# The linker of the macOS cross builds (scripts/build-platforms.js), which rustc runs as its
# ld64.lld flavour; CIVIC_LD64_LLD is Debian's ld64.lld. The link arguments of build.rs and
# napi-build are written for a C compiler driver, which is what links on a macOS runner:
# `-Wl,-a,-b` is passed on as `-a -b`, and the bare `-Wl` napi-build puts before `-undefined
# dynamic_lookup` (which the driver ignores) is dropped. Everything else goes through unchanged.
set -euo pipefail
args=()
for arg in "$@"; do
  case "$arg" in
    -Wl) ;;
    -Wl,*) IFS=, read -r -a parts <<<"${arg#-Wl,}" && args+=("${parts[@]}") ;;
    *) args+=("$arg") ;;
  esac
done
exec "${CIVIC_LD64_LLD:?set by scripts/build-platforms.js}" "${args[@]}"
