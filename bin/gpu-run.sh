#!/usr/bin/env bash
# On a GPU machine, from the repository root, with gpu.tmp/pack/ (bin/gpu-pack.sh) carried
# along: find Node.js, the Vulkan loader and the NVIDIA Vulkan driver, then run colora bench on
# webgpu next to PyTorch CUDA (default and GPT-2-small-sized workloads) and the smoke config.
# Results go to $OUT (default gpu.tmp/out). Parts: env | bench | smoke | all (default). docs/gpu.md.
# GPU_RUN_QUICK=1 shrinks every bench to a tiny workload (to check this script on a CPU machine).
set -uo pipefail
PACK=${PACK:-gpu.tmp/pack}
OUT=${OUT:-gpu.tmp/out}
PART=${1:-all}
mkdir -p "$OUT"
PACK=$(cd "$PACK" && pwd)

# Node.js >= 20: the machine's, else the one packed with --with-node.
NODE=$(command -v node || true)
if [ -z "$NODE" ] || [ "$("$NODE" -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  if [ -f "$PACK/node.xz" ]; then mkdir -p /tmp/colora-node && xz -dc "$PACK/node.xz" > /tmp/colora-node/node && chmod +x /tmp/colora-node/node; NODE=/tmp/colora-node/node
  else echo "no Node.js >= 20 here and none packed (bin/gpu-pack.sh --with-node)"; exit 1; fi
fi

# Vulkan: the packed loader unless the machine has one; NVIDIA's ICD from its JSON, or a JSON
# written for libGLX_nvidia.so.0 when the container has the library but not the manifest.
ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1' || export LD_LIBRARY_PATH="$PACK/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
ICD=$(ls /usr/share/vulkan/icd.d/nvidia*.json /etc/vulkan/icd.d/nvidia*.json 2>/dev/null | head -1)
if [ -z "$ICD" ]; then
  GLX=$( (ldconfig -p 2>/dev/null | awk '/libGLX_nvidia\.so\.0/ {print $NF; exit}'); ls /usr/lib/x86_64-linux-gnu/libGLX_nvidia.so.0 /usr/lib64/libGLX_nvidia.so.0 /usr/local/nvidia/lib64/libGLX_nvidia.so.0 2>/dev/null | head -1)
  GLX=$(echo "$GLX" | head -1)
  if [ -n "$GLX" ]; then
    ICD=/tmp/colora_nvidia_icd.json
    printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' "$GLX" > "$ICD"
  fi
fi
[ -n "$ICD" ] && export VK_ICD_FILENAMES="$ICD" VK_DRIVER_FILES="$ICD"
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
SHARED=../shared; [ -d "$SHARED/bench" ] || SHARED=shared
COLORA=("$NODE" "$PACK/colora.mjs")

if [ "$PART" = env ] || [ "$PART" = all ]; then
  {
    echo "node: $NODE $("$NODE" --version)"
    echo "vulkan loader: $(ldconfig -p 2>/dev/null | grep 'libvulkan\.so\.1' | head -1 || true) LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
    echo "ICD: ${ICD:-none}"; ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>&1
    echo "NVIDIA_DRIVER_CAPABILITIES=${NVIDIA_DRIVER_CAPABILITIES:-unset}"
    nvidia-smi -L 2>&1; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
    ls /usr/lib/x86_64-linux-gnu/ | grep -iE 'nvidia|libcuda' | head -40
    python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.is_available())' 2>&1
    "$NODE" -e "import('$PACK/node_modules/webgpu/index.js').then(async ({create, globals}) => { Object.assign(globalThis, globals); const a = await create([]).requestAdapter({powerPreference:'high-performance'}); console.log('adapter', a ? JSON.stringify({...a.info}) : null); if (a) console.log('limits', JSON.stringify({maxBuf: a.limits.maxBufferSize, maxBinding: a.limits.maxStorageBufferBindingSize, wgStorage: a.limits.maxComputeWorkgroupStorageSize})); process.exit(0); })" 2>&1
  } | tee "$OUT/env.txt"
fi

if [ "$PART" = bench ] || [ "$PART" = all ]; then
  GPT2S=(--layers 12 --d 768 --heads 12 --vocab 50257 --ctx 256 --batch 8)
  QUICK=(); [ "${GPU_RUN_QUICK:-}" = 1 ] && QUICK=(--layers 1 --d 32 --heads 2 --vocab 64 --ctx 16 --batch 2 --gen 4 --steps 2)
  for round in 1 2; do
    "${COLORA[@]}" bench --backend webgpu "${QUICK[@]}" --json > "$OUT/colora-webgpu-default-$round.json" 2> "$OUT/colora-webgpu-default-$round.err"
    python3 "$SHARED/bench/torch_reference.py" --device cuda "${QUICK[@]}" > "$OUT/torch-cuda-default-$round.json" 2> "$OUT/torch-cuda-default-$round.err"
    "${COLORA[@]}" bench --backend webgpu "${GPT2S[@]}" "${QUICK[@]}" --json > "$OUT/colora-webgpu-gpt2s-$round.json" 2> "$OUT/colora-webgpu-gpt2s-$round.err"
    python3 "$SHARED/bench/torch_reference.py" --device cuda "${GPT2S[@]}" "${QUICK[@]}" > "$OUT/torch-cuda-gpt2s-$round.json" 2> "$OUT/torch-cuda-gpt2s-$round.err"
  done
  # The loss rule: the cpu backend's final loss for the same seed and workload (JS GEMM here: no OpenBLAS in the pack).
  "${COLORA[@]}" bench --backend cpu "${QUICK[@]}" --json > "$OUT/colora-cpu-default.json" 2> "$OUT/colora-cpu-default.err"
  COLORA_BENCH_PROFILE=1 "${COLORA[@]}" bench --backend webgpu "${GPT2S[@]}" --steps 2 "${QUICK[@]}" > "$OUT/colora-webgpu-gpt2s-profile.txt" 2>&1
  for f in "$OUT"/*.json; do echo "$f: $(cat "$f")"; done
fi

if [ "$PART" = smoke ] || [ "$PART" = all ]; then
  "${COLORA[@]}" train --config configs/smoke.yaml --out "$OUT/smoke" --backend webgpu --quiet > "$OUT/smoke.log" 2>&1
  echo "smoke exit $?"; tail -30 "$OUT/smoke.log"; cat "$OUT/smoke/summary.md" 2>/dev/null | head -40
fi
