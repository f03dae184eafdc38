#!/usr/bin/env bash
# tests/sievesuite/run.sh - runs build/sievesuite over the files of
# Pigeonhole's Sieve test suite listed in passing.txt (make sievesuite):
# fails when any of them fails. With --all, runs every .svtest file and
# prints one line each (PASS, or FAIL and its first failure), to see
# what could join the list; skipped.txt says why the others are not in it.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
suite="$root/build/testdata/pigeonhole/tests"
bin="$root/build/sievesuite"
[[ -f $suite/../.version ]] || { echo "sievesuite: $suite missing: run scripts/install-test-deps" >&2; exit 1; }
[[ -x $bin ]] || { echo "sievesuite: $bin missing: make build/sievesuite" >&2; exit 1; }
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
cd "$suite" || exit 1

# Pigeonhole's Makefile runs the files of failures/ (crash regressions of
# its harness) with -F: each of their tests is expected to fail.
flags() { [[ $1 == failures/* ]] && echo -F; }

if [[ ${1:-} == --all ]]; then
    find . -name '*.svtest' | sed 's|^\./||' | sort | while read -r f; do
        out=$("$bin" $(flags "$f") "$f" 2>&1)
        if [[ $? == 0 ]]; then echo "PASS $f"
        else echo "$(grep -m1 '^FAIL' <<<"$out" || tail -n1 <<<"$out")"; fi
    done
    exit 0
fi

failed=0 n=0
while read -r f; do
    [[ -z $f || $f == \#* ]] && continue
    n=$((n + 1))
    if ! out=$("$bin" $(flags "$f") "$f" 2>&1); then
        failed=$((failed + 1))
        printf '%s\n' "$out" | grep -v '^pass '
    fi
done <"$root/tests/sievesuite/passing.txt"
echo "sievesuite: $n files of Pigeonhole's suite (dovecot $(cat "$suite/../.version")), $failed failed"
(( failed == 0 ))
