#!/usr/bin/env bash
# Builds .gpu/, everything bench/gpu.sh needs on a GPU machine that has no Node.js and no network.
#
# Then, from the device tool, one call (a few minutes of device time on an H200; the 224x224 zoo rows are
# not measured there yet):
#   run(command="bash bench/gpu.sh", carry=[".gpu"], timeout_s=600)
# It writes $OUT/ops-gpu.json (tuned), $OUT/ops-gpu-untuned.json (WEBGRAD_TUNE=0), $OUT/suite-gpu.json,
# $OUT/suite-gpu-zoo.json (torchvision zoo at 224x224 vs tfjs and jax-js), their logs and the tuner's
# choices in $OUT/tune/tune.json.
#
# .gpu/ holds: debs/ (Debian's Vulkan loader libvulkan1, which Dawn loads at run time, and glvnd's GL
# dispatch libraries, which NVIDIA's Vulkan driver links against) and bundle.tar.xz (this machine's x86-64
# `node` binary, the op and end-to-end benchmarks bundled with webgrad and tfjs into app/ops.mjs and
# app/suite.mjs by bench/bundle.ts, and the npm package webgpu's runtime files with its linux-x64 dawn.node).
# The device tool sends the working tree plus carried paths up to 64 MiB in all; this script prints both
# sizes and fails if they do not fit.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(uname -m)" = x86_64 ] || { echo "pack-gpu: the GPU machine is x86-64; pack on x86-64" >&2; exit 1; }
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >>.git/info/exclude
rm -rf .gpu
mkdir -p .gpu/debs .gpu/build/app /tmp/webgrad-apt-lists/partial

# The Vulkan loader, fetched by apt from Debian (the GPU machine reaches no registry).
apt_opts=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/webgrad-apt-lists
  -oAPT::Sandbox::User=root)
apt-get "${apt_opts[@]}" -qq update
# The NVIDIA Vulkan driver (libGLX_nvidia) also needs the GL dispatch libraries of glvnd.
(cd .gpu/debs && apt-get "${apt_opts[@]}" -qq download libvulkan1 libglvnd0 libglx0 libegl1 libgl1 libopengl0 libgles2)

# webgrad, the harness and tfjs (with its gradients) as one ES module; Dawn's addon stays a file beside it.
npm run --silent shaders
npx tsx bench/bundle.ts bench/ops.ts .gpu/build/app/ops.mjs
npx tsx bench/bundle.ts bench/suite.ts .gpu/build/app/suite.mjs
for f in package.json index.js dist/linux-x64/dawn.node; do
  mkdir -p ".gpu/build/app/node_modules/webgpu/$(dirname "$f")"
  cp "node_modules/webgpu/$f" ".gpu/build/app/node_modules/webgpu/$f"
done
cp "$(command -v node)" .gpu/build/node

tar -C .gpu/build -cf - node app | xz -6 -T0 >.gpu/bundle.tar.xz
rm -rf .gpu/build

carried=$(du -sb .gpu | cut -f1)
tree=$( (git ls-files -z --cached --others --exclude-standard | xargs -0 -r stat -c %s 2>/dev/null || true) |
  awk '{ s += $1 } END { print s + 0 }')
total=$((carried + tree))
awk -v c="$carried" -v t="$tree" 'BEGIN { m = 1048576; printf "pack-gpu: .gpu %.1f MiB + working tree %.1f MiB = %.1f MiB of 64 MiB\n", c / m, t / m, (c + t) / m }'
[ "$total" -lt $((64 * 1024 * 1024)) ] || { echo "pack-gpu: over the 64 MiB limit" >&2; exit 1; }
