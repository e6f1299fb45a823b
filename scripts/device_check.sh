#!/usr/bin/env bash
# The one prepared device check (issue 27): every GPU check in one run, under 8 minutes on one H100 or H200.
#
#   scripts/device_check.sh [OUT]        on the device machine; reports go to OUT (default results/reference/perf)
#   TINY=1 scripts/device_check.sh OUT   the CPU rehearsal: the same steps at tiny settings, so the script runs first
#                                        time when a device is lent (by hand; not yet part of the test suite)
#
# Steps, each writing its report under OUT (a step that fails is reported and the others still run):
#   1. devices.txt: what JAX sees (the platform must be gpu, unless TINY)
#   2. run-bf16.json: one harness run on the device in bf16 (its record says the platform and precision)
#   3. <kind>-standard-bf16.json: `archbench perf --suite standard` in bf16 with 64 members packed, to fill the device
#   4. <kind>-transformer-largest.json: the largest transformer of `standard`, its fraction of the bf16 peak
# The wall time of each step is printed; the whole check stops itself at 7 minutes (timeout per step).
set -uo pipefail

OUT=${1:-results/reference/perf}
PY=${PYTHON:-python}
mkdir -p "$OUT"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
failed=0

TINY=${TINY:-}
if [[ -n "$TINY" ]]; then
  KIND=cpu-rehearsal; PARAMS_RUN=2500; SIZES=2500; LARGEST=5000; SEEDS=2; WINDOW=0.2; BATCH=64; STEPS=40; EVERY=20
  PERF_SUITE=quick; BUDGET=150; SLICE=1; ARCHS="--arch mlp"
else
  KIND=$($PY -c "import jax; print(jax.devices()[0].device_kind.lower().replace(' ', '-'))" 2>/dev/null || echo unknown)
  PARAMS_RUN=100000; SIZES=100000,10000000; LARGEST=10000000; SEEDS=64; WINDOW=1.0; BATCH=8192; STEPS=400; EVERY=100
  PERF_SUITE=standard; BUDGET=150; SLICE=6; ARCHS=""
fi

step() {  # step NAME TIMEOUT_S COMMAND...: run it, time it, keep going on failure
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  if timeout "$limit" bash -c "$*"; then
    echo "device_check: $name ok in $((SECONDS - t0)) s"
  else
    echo "device_check: $name FAILED (exit $?) after $((SECONDS - t0)) s"; failed=1
  fi
}

platform_check() {
  $PY - "$OUT/devices.txt" "$TINY" <<'EOF'
import sys, jax
devices = jax.devices()
text = f"platform {jax.default_backend()}, {len(devices)} device(s): {', '.join(d.device_kind for d in devices)}\n"
open(sys.argv[1], "w").write(text)
print(text, end="")
sys.exit(0 if sys.argv[2] or jax.default_backend() == "gpu" else 1)
EOF
}

harness_run() {
  $PY -m benchmarks.cli run --arch transformer --params "$PARAMS_RUN" --data-size 4000 --steps "$STEPS" \
    --eval-every "$EVERY" --precision bfloat16 --seeds 0,1 --results-dir "$WORK/run" --suite device-check --json \
    > "$OUT/run-bf16.json" && $PY - "$OUT/run-bf16.json" <<'EOF'
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
print(f"run: {r['status']}, platform {r['env'].get('platform')}, precision {r['spec']['precision']}, "
      f"test loss {r['seeds'][0]['test_loss']:.3f}, {r['steps_per_s']:.0f} member-steps/s")
sys.exit(0 if r["status"] == "ok" and r["spec"]["precision"] == "bfloat16" else 1)
EOF
}

perf_suite() {
  $PY -m benchmarks.cli perf --suite "$PERF_SUITE" $ARCHS --params "$SIZES" --precision bfloat16 --seeds "$SEEDS" \
    --window "$WINDOW" --slice "$SLICE" --results-dir "$WORK/perf" > "$OUT/$KIND-$PERF_SUITE-bf16.txt" \
    && cp "$WORK/perf/perf.json" "$OUT/$KIND-$PERF_SUITE-bf16.json"
}

largest_transformer() {
  $PY -m benchmarks.cli perf --arch transformer --params "$LARGEST" --precision bfloat16 \
    --batch-size "$BATCH" --seeds 2 --window "$WINDOW" --results-dir "$WORK/largest" \
    > "$OUT/$KIND-transformer-largest.txt" && cp "$WORK/largest/perf.json" "$OUT/$KIND-transformer-largest.json"
}

export OUT PY WORK KIND PARAMS_RUN SIZES LARGEST SEEDS WINDOW BATCH STEPS EVERY PERF_SUITE TINY SLICE ARCHS
export -f platform_check harness_run perf_suite largest_transformer
step "platform" 60 platform_check
step "harness run in bf16" "$BUDGET" harness_run
step "perf --suite $PERF_SUITE (bf16, $SEEDS members)" "$BUDGET" perf_suite
step "largest transformer ($LARGEST params, batch $BATCH)" "$BUDGET" largest_transformer
echo "device_check: reports in $OUT"
exit $failed
