#!/usr/bin/env bash
# Installs dependencies, builds tern with ASan+UBSan, builds the libFuzzer
# targets with clang, and runs every test with ctest: unit tests, integration
# tests against real peers on loopback, and each fuzz target for a bounded
# time (TERNTEST_FUZZ_SECONDS, default 30). Prints ctest's summary; exits non-zero
# on any failure. This is the README's test command and what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

jobs=$(nproc)
if command -v clang++ >/dev/null; then
  cmake -S . -B build-fuzz -G Ninja -DTERN_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER=clang++ >/dev/null
  cmake --build build-fuzz -j "$jobs"
  fuzz_dir=$PWD/build-fuzz/fuzz
else
  echo "clang++ not found: the fuzz targets are not built" >&2
  fuzz_dir=""
fi

cmake -S . -B build-test -G Ninja -DTERN_SANITIZE=ON -DTERN_BENCH=ON -DCMAKE_BUILD_TYPE=Debug \
  -DTERN_FUZZ_BIN_DIR="$fuzz_dir" >/dev/null
cmake --build build-test -j "$jobs"
cd build-test
ctest --output-on-failure -j "$jobs" "$@"
