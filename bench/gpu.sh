#!/usr/bin/env bash
# Runs the op and end-to-end benchmarks on a real GPU machine from the carried .gpu/ (see bench/pack-gpu.sh): no network, no Node.
# Dawn's Vulkan backend drives the GPU; webgrad is forced to a real GPU so it never falls back to software.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .gpu/bundle.tar.xz ] || { echo "gpu.sh: .gpu/ is missing: run bench/pack-gpu.sh here and carry .gpu" >&2; exit 1; }

for f in .gpu/debs/*.deb; do dpkg -x "$f" /; done
ldconfig
# The bare machine may have no xz; Python's lzma unpacks the bundle.
rm -rf /tmp/webgrad && mkdir -p /tmp/webgrad
python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' .gpu/bundle.tar.xz /tmp/webgrad

# The NVIDIA driver's Vulkan manifest and libraries live outside the default search paths on these machines.
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES="${VK_DRIVER_FILES:-$icd}"
glx=$(find /usr/local/nvidia /usr/lib /usr/lib64 -name 'libGLX_nvidia.so.0' 2>/dev/null | head -n 1 || true)
echo "gpu.sh: NVIDIA GLX library: ${glx:-not found}; Vulkan manifest: $([ -f "$icd" ] && echo "$icd" || echo 'not found')"
[ -n "$glx" ] && export LD_LIBRARY_PATH="$(dirname "$glx")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export WEBGRAD_BACKEND=gpu

out="${OUT:-bench/out}"
mkdir -p "$out"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
/tmp/webgrad/node --version
# Each benchmark runs even if the other fails; the exit status says whether both succeeded.
status=0
# The tuner times each op shape's kernel candidates once (the choices land in $out/tune/tune.json); the op
# benchmark runs once tuned and once with the fixed fallbacks (WEBGRAD_TUNE=0), so the tuner's gain is measured.
export WEBGRAD_TUNE_CACHE="$out/tune"
/tmp/webgrad/node /tmp/webgrad/app/ops.mjs --json "$out/ops-gpu.json" 2>&1 | tee "$out/ops-gpu.log" || status=1
WEBGRAD_TUNE=0 /tmp/webgrad/node /tmp/webgrad/app/ops.mjs --json "$out/ops-gpu-untuned.json" 2>&1 |
  tee "$out/ops-gpu-untuned.log" || status=1
/tmp/webgrad/node /tmp/webgrad/app/suite.mjs --zoo off --json "$out/suite-gpu.json" 2>&1 | tee "$out/suite-gpu.log" || status=1
# The torchvision zoo at ImageNet size (224x224, training b32, inference b1 and b32) against tfjs and jax-js:
# its short run (3 timed runs per engine), so the whole script fits one device call.
/tmp/webgrad/node /tmp/webgrad/app/suite.mjs --quick --zoo full --filter '224px' --json "$out/suite-gpu-zoo.json" 2>&1 |
  tee "$out/suite-gpu-zoo.log" || status=1
exit "$status"
