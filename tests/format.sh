#!/bin/sh
# tests/format.sh - the tree is kept clang-formatted (.clang-format): every
# tracked C, header and C++ file, checked without changing it.  Fails
# naming each file and line that differs; `clang-format -i FILE` fixes it.
set -eu
cd "$(dirname "$0")/.."
cf=${CLANG_FORMAT:-clang-format}
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    files=$(git ls-files '*.c' '*.h' '*.cpp')
else
    files=$(find core include plugins tools examples tests bench fuzz \
        -name '*.c' -o -name '*.h' -o -name '*.cpp')
fi
# shellcheck disable=SC2086 # one word per file name (none holds a blank)
"$cf" --dry-run --Werror $files
echo "format: $(echo "$files" | wc -l) files clang-formatted"
