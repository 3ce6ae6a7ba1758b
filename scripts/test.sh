#!/usr/bin/env bash
# The whole test suite: dependencies, a normal build with every suite
# (unit, fuzz corpus replay, integration with real peers; the root suite
# needs root), the unit suites again under ASan/UBSan, and a short
# libFuzzer run of every harness.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

./scripts/deps.sh

fuzz_seconds=${FUZZ_SECONDS:-45}

setup() {	# dir, options...
	local dir=$1; shift
	if [ -f "$dir/build.ninja" ]; then
		meson configure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi
}

echo "== build"
setup build/ci
ninja -C build/ci

echo "== tests: unit, fuzz corpus replay, integration"
meson test -C build/ci --no-rebuild --print-errorlogs \
	--suite unit --suite fuzz --suite integration

echo "== unit tests under ASan/UBSan"
setup build/asan -Db_sanitize=address,undefined -Db_lundef=false
ninja -C build/asan
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	meson test -C build/asan --no-rebuild --print-errorlogs \
	--suite unit --suite fuzz

echo "== libFuzzer, ${fuzz_seconds} s per harness"
CC=clang setup build/fuzz -Dfuzz=true -Db_sanitize=address,undefined \
	-Db_lundef=false -Dtests=true
ninja -C build/fuzz $(cd build/fuzz && ninja -t targets all |
	sed -n 's/^\(tests\/fuzz_[a-z]*\):.*/\1/p')
# One harness: its corpus copied (new inputs stay out of the tree), its
# per-harness libFuzzer options (-max_len=...) read from <name>.options.
fuzz_one() {
	local name=$1 f=build/fuzz/tests/fuzz_$1 work opts=
	work=$(mktemp -d)
	cp tests/fuzz/corpus/"$name"/* "$work"/
	if [ -f tests/fuzz/corpus/"$name".options ]; then
		opts=$(cat tests/fuzz/corpus/"$name".options)
	fi
	echo "-- $name $opts"
	# shellcheck disable=SC2086
	if ! "$f" -max_total_time="$fuzz_seconds" -print_final_stats=0 \
		-timeout=10 -rss_limit_mb=2048 $opts "$work" > "$work.log" 2>&1; then
		tail -40 "$work.log"
		rm -rf "$work" "$work.log"
		return 1
	fi
	tail -1 "$work.log"
	rm -rf "$work" "$work.log"
}

# Two harnesses at a time, one per core; each one's lines printed whole.
fuzz_jobs=${FUZZ_JOBS:-2}
fuzz_out=$(mktemp -d)
fuzz_failed=0
for dir in tests/fuzz/corpus/*/; do
	name=$(basename "$dir")
	fuzz_one "$name" > "$fuzz_out/$name" 2>&1 &
	while [ "$(jobs -rp | wc -l)" -ge "$fuzz_jobs" ]; do
		wait -n || fuzz_failed=1
	done
done
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do
	wait -n || fuzz_failed=1
done
cat "$fuzz_out"/*
rm -rf "$fuzz_out"
[ "$fuzz_failed" = 0 ] || { echo "a fuzz harness failed"; exit 1; }

# -O3 finds uses of uninitialised values that -O2 does not: the release
# build must compile without a warning too.
echo "== release build"
setup build/release -Dbuildtype=release -Dtests=false
ninja -C build/release >/dev/null

# One line that says it all, counted from meson's own logs.
/usr/bin/python3 - "$top" <<'PY'
import json, sys
passed = failed = 0
for d in ("build/ci", "build/asan"):
    with open(f"{sys.argv[1]}/{d}/meson-logs/testlog.json") as f:
        for line in f:
            r = json.loads(line)
            if r["result"] in ("OK", "EXPECTEDFAIL"):
                passed += 1
            else:
                failed += 1
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
