#!/usr/bin/env bash
# Builds and runs every fuzz target in fuzz/ (cargo-fuzz, libFuzzer) for a
# fixed budget, one after another, and prints executions per target and any
# crash. A bench-like command, not part of the test suite.
#
#   bash scripts/fuzz.sh                 # 60 s per target
#   bash scripts/fuzz.sh 300             # 300 s per target
#   bash scripts/fuzz.sh --runs 1000000  # 1,000,000 executions per target
#   bash scripts/fuzz.sh --runs 1000000 quantity body   # only these targets
#
# Environment: FUZZ_SANITIZER (none|address, default none: the code is safe
# Rust, so the speed is worth more than ASan), FUZZ_NICE (default 19),
# FUZZ_TIMEOUT (libFuzzer -timeout per input, default 10 s).
# New corpus entries go to fuzz/corpus/<target> (git-ignored); the checked-in
# seeds are fuzz/seeds/<target>; crashes land in fuzz/artifacts/<target>/.
# Needs only the stable toolchain: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its
# -Z flags.
set -euo pipefail

budget=(-max_total_time=60)
case "${1:-}" in
--runs)
    [[ "${2:-}" =~ ^[0-9]+$ ]] || { echo "usage: $0 [SECONDS_PER_TARGET|--runs N] [TARGET...]" >&2; exit 2; }
    budget=(-runs="$2")
    shift 2
    ;;
-h | --help)
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
'' | *[!0-9]*) ;;
*)
    budget=(-max_total_time="$1")
    shift
    ;;
esac

cd "$(dirname "$0")/../fuzz"
export RUSTC_BOOTSTRAP=1
sanitizer="${FUZZ_SANITIZER:-none}"
nice_level="${FUZZ_NICE:-19}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz (cargo install cargo-fuzz)" >&2
    cargo install --locked cargo-fuzz
fi

if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

echo "building ${#targets[@]} fuzz targets (sanitizer: $sanitizer)" >&2
if [[ $# -gt 0 ]]; then
    for t in "${targets[@]}"; do
        nice -n "$nice_level" cargo fuzz build -s "$sanitizer" "$t" >&2
    done
else
    nice -n "$nice_level" cargo fuzz build -s "$sanitizer" >&2
fi

mkdir -p artifacts
touch artifacts/.started
declare -a summary
failed=0
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t" "seeds/$t"
    log="artifacts/$t.log"
    echo "=== $t (${budget[*]})" >&2
    status=0
    nice -n "$nice_level" cargo fuzz run -s "$sanitizer" "$t" "corpus/$t" "seeds/$t" -- \
        "${budget[@]}" -timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb=2048 \
        -max_len=8192 -print_final_stats=1 >"$log" 2>&1 || status=$?
    done_line=$(grep -E '^Done [0-9]+ runs in' "$log" | tail -1 || true)
    execs=$(grep -E '^stat::number_of_executed_units:' "$log" | awk '{print $2}' | tail -1)
    secs=$(grep -E '^stat::average_exec_per_sec:' "$log" | awk '{print $2}' | tail -1)
    if [[ $status -eq 0 ]]; then
        result="ok"
    else
        failed=1
        result="FAILED (exit $status)"
        echo "--- $t failed; the end of $log:" >&2
        grep -E 'panicked at|ERROR: libFuzzer|SUMMARY|Test unit written|Base64' "$log" >&2 || tail -30 "$log" >&2
    fi
    echo "$t: ${done_line:-no final line} [$result]" >&2
    summary+=("$(printf '%-24s %12s %10s  %s' "$t" "${execs:-?}" "${secs:-?}" "$result")")
done

echo
printf '%-24s %12s %10s  %s\n' target executions exec/s result
printf '%s\n' "${summary[@]}"
crashes=$(find artifacts -type f -newer artifacts/.started \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | sort)
if [[ -n "$crashes" ]]; then
    echo
    echo "crash inputs (reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run -s $sanitizer TARGET FILE, in fuzz/):"
    echo "$crashes"
fi
exit "$failed"
