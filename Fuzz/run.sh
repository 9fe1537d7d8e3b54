#!/usr/bin/env bash
# Builds the libFuzzer targets and runs each one for a given time (default 60 s) on a copy of its
# committed seed corpus (Corpus/<target>/). Findings (crash-*, leak-*, timeout-*, oom-*) land in
# Fuzz/Findings/<target>/; the script exits non-zero if any target found something.
#
#   Fuzz/run.sh [seconds] [target ...]      e.g. Fuzz/run.sh 10, Fuzz/run.sh 300 idx gzip
#
# Linux only: needs the Swift toolchain's libFuzzer, AddressSanitizer and lld.
set -uo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(idx gzip csv tar pnm safetensors checkpoint)

swift build -c release --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address 2>&1 | tail -n 3
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "fuzz build failed" >&2; exit 2; }
bin="$(swift build -c release --scratch-path .build-fuzz --show-bin-path)"

# Swift's own crash reporter reads the crashed process's memory, which AddressSanitizer reports
# as a second, unrelated error: leave crash reports to libFuzzer.
export SWIFT_BACKTRACE=enable=no

status=0
for target in "${targets[@]}"; do
    work="$(mktemp -d)"
    cp Corpus/"$target"/* "$work"/ 2>/dev/null
    mkdir -p Findings/"$target"
    log="Findings/$target/last-run.log"
    # -rss_limit_mb / -malloc_limit_mb: an input that makes a parser allocate more than 512 MB
    # is a finding (a header announcing terabytes must be refused before allocating).
    "$bin/fuzz-$target" "$work" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 \
        -malloc_limit_mb=512 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="Findings/$target/" >"$log" 2>&1
    code=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
    printf '%-12s %4ss  %10s inputs  exit %s\n' "$target" "$seconds" "${runs:-?}" "$code"
    if [ "$code" -ne 0 ]; then
        status=1
        grep -m 5 -E 'ERROR|Fatal error|==[0-9]+==|SUMMARY' "$log" | sed 's/^/    /'
    fi
    rm -rf "$work"
done
exit $status
