#!/usr/bin/env bash
# Pack what a GPU machine needs to run colora's webgpu backend into gpu.tmp/pack/ (ignored by git;
# ~30 MB, ~54 MB with Node.js): the CLI bundled into one file, Dawn for Node (linux-x64 only), the
# resvg addon (report plots), the Vulkan loader, and (--with-node) this machine's Node.js, xz'd.
# Run from the repository root after `npm ci` (esbuild comes with tsx) and
# `apt-get install -y libvulkan1`. See docs/gpu.md.
set -euo pipefail
P=gpu.tmp/pack
rm -rf "$P" && mkdir -p "$P/node_modules/webgpu/dist/linux-x64" "$P/node_modules/@resvg" "$P/lib"
printf "import { main } from './src/cli/main.ts';\nawait main(process.argv);\n" |
  node_modules/.bin/esbuild --bundle --platform=node --format=esm --target=node20 --minify \
    --sourcefile=gpu-entry.ts --loader=ts --outfile="$P/colora.mjs" --log-level=warning \
    --external:webgpu --external:nblas --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu \
    --external:@huggingface/transformers --external:@resvg/resvg-js \
    --banner:js="import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);"
cp node_modules/webgpu/index.js node_modules/webgpu/package.json "$P/node_modules/webgpu/"
cp node_modules/webgpu/dist/linux-x64/dawn.node "$P/node_modules/webgpu/dist/linux-x64/"
cp -r node_modules/@resvg/resvg-js node_modules/@resvg/resvg-js-linux-x64-gnu "$P/node_modules/@resvg/"
VK=$(ldconfig -p | awk '/libvulkan\.so\.1 .*x86-64/ {print $NF; exit}')
[ -n "$VK" ] || { echo "gpu-pack: no libvulkan.so.1 here: apt-get install -y libvulkan1 first" >&2; exit 1; }
cp -L "$VK" "$P/lib/libvulkan.so.1"
if [ "${1:-}" = --with-node ]; then xz -T0 -6 -c "$(command -v node)" > "$P/node.xz"; fi
cp bin/gpu-run.sh "$P/"
du -sh "$P"
