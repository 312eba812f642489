#!/usr/bin/env bash
# The C ABI in CI: build the C and C++ examples against the staticlib with warnings as
# errors, run them, diff the C program's output with the Rust API's (examples/c_parity.rs),
# and run both under valgrind (leaks or invalid accesses fail). The header's staleness is
# checked by `cargo test -p t0-ffi --test header` (part of `cargo test --workspace`).
set -euo pipefail
cd "$(dirname "$0")/.."

model=t0-core/tests/fixtures/models/t5style_4k
tok=t0-core/tests/fixtures/tokenizer/t5style-4k.model
tpl=t0-prompts/tests/fixtures/templates
out=target/c-api
mkdir -p "$out"

cargo build -p t0-ffi
cargo build -p t0-examples --example c_parity
libs=(target/debug/libt0.a -lpthread -ldl -lm)
cc -std=c11 -Wall -Wextra -Wpedantic -Werror -I t0-ffi/include examples/c/t0_example.c "${libs[@]}" -o "$out/t0_example_c"
c++ -std=c++17 -Wall -Wextra -Wpedantic -Werror -I t0-ffi/include examples/cpp/t0_example.cpp "${libs[@]}" -o "$out/t0_example_cpp"

"$out/t0_example_c" "$model" "$tok" "$tpl" >"$out/c.txt"
"$out/t0_example_cpp" "$model" "$tok" "$tpl" >"$out/cpp.txt"
target/debug/examples/c_parity "$model" "$tok" "$tpl" >"$out/rust.txt"
diff -u "$out/rust.txt" "$out/c.txt"
# The C++ program prints the prompt lines only.
diff -u <(grep '^prompt' "$out/rust.txt") "$out/cpp.txt"
echo "C and C++ outputs equal the Rust API's"

if ! command -v valgrind >/dev/null 2>&1; then
  (apt-get install -y valgrind >/dev/null 2>&1 || sudo apt-get install -y valgrind >/dev/null 2>&1) || true
fi
if command -v valgrind >/dev/null 2>&1; then
  for prog in t0_example_c t0_example_cpp; do
    valgrind --quiet --suppressions=.ci/valgrind.supp --leak-check=full --show-leak-kinds=definite,indirect,possible \
      --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1 \
      "$out/$prog" "$model" "$tok" "$tpl" >/dev/null
    echo "valgrind clean: $prog"
  done
else
  echo "valgrind is not installed and could not be installed" >&2
  exit 1
fi
