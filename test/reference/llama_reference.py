#!/usr/bin/python3
"""
A small PyTorch reference of the Llama family's forward pass (transformers' LlamaForCausalLM /
MistralForCausalLM / Qwen2ForCausalLM, written out with torch only: transformers is not
installed), and the script that made the checkpoints under test/fixtures/llama-family/.

    /usr/bin/python3 test/reference/llama_reference.py test/fixtures/llama-family
    /usr/bin/python3 test/reference/llama_reference.py --check ../shared/fixtures/tiny-llama

Each fixture directory gets config.json, the weights as Hugging Face stores them (`model.`
keys, nn.Linear [out, in]; F32, BF16 or sharded) and expected.json:
  input_ids [2, T], logits [2, T, vocab] (float32, computed from the stored weights upcast to
  float32, which is what colora loads), and greedy: {prompts, output_ids}, 6 greedy tokens per
  prompt (no end-of-sequence stop), each decoded alone by recomputing the whole prefix.
Weights are random with unit-scale activations, so the logits are O(1) and a wrong detail
(rotary half, kv-head grouping, a missing bias) moves them far more than 1e-4.
"""
import json
import math
import os
import struct
import sys

import torch

torch.manual_seed(0)


# ---------------------------------------------------------------- the model (float32)

def rms_norm(x, w, eps):
    var = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(var + eps))


def inv_freq(cfg):
    hd = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    base = cfg.get("rope_theta", 10000.0)
    inv = 1.0 / (base ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    rs = cfg.get("rope_scaling")
    if not rs:
        return inv
    kind = rs.get("rope_type", rs.get("type"))
    if kind == "linear":
        return inv / rs["factor"]
    assert kind == "llama3", kind
    factor, low, high, old = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], rs["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old / low, old / high
    wavelen = 2 * math.pi / inv
    out = torch.where(wavelen > low_wavelen, inv / factor, inv)
    smooth = (old / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * out / factor + smooth * out
    medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
    return torch.where(medium, smoothed, out)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def forward(cfg, W, ids):
    """ids [B, T] → logits [B, T, V]; W: HF names (no `model.` prefix), float32."""
    B, T = ids.shape
    H, KVH = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    hd = cfg.get("head_dim") or cfg["hidden_size"] // H
    eps = cfg.get("rms_norm_eps", 1e-6)
    pos = torch.arange(T).float()
    freqs = pos[:, None] * inv_freq(cfg)[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    mask = torch.full((T, T), float("-inf")).triu(1)

    def lin(x, name):
        y = x @ W[name + ".weight"].T
        b = W.get(name + ".bias")
        return y + b if b is not None else y

    x = W["embed_tokens.weight"][ids]
    for l in range(cfg["num_hidden_layers"]):
        p = f"layers.{l}."
        a = rms_norm(x, W[p + "input_layernorm.weight"], eps)
        q = lin(a, p + "self_attn.q_proj").view(B, T, H, hd).transpose(1, 2)
        k = lin(a, p + "self_attn.k_proj").view(B, T, KVH, hd).transpose(1, 2)
        v = lin(a, p + "self_attn.v_proj").view(B, T, KVH, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // KVH, dim=1)
        v = v.repeat_interleave(H // KVH, dim=1)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + mask, dim=-1) @ v
        x = x + lin(att.transpose(1, 2).reshape(B, T, H * hd), p + "self_attn.o_proj")
        m = rms_norm(x, W[p + "post_attention_layernorm.weight"], eps)
        x = x + lin(torch.nn.functional.silu(lin(m, p + "mlp.gate_proj")) * lin(m, p + "mlp.up_proj"), p + "mlp.down_proj")
    x = rms_norm(x, W["norm.weight"], eps)
    head = W["embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else W["lm_head.weight"]
    return x @ head.T


def greedy(cfg, W, prompt, n):
    ids = list(prompt)
    for _ in range(n):
        logits = forward(cfg, W, torch.tensor([ids]))
        ids.append(int(logits[0, -1].argmax()))
    return ids[len(prompt):]


# ---------------------------------------------------------------- weights and files

def random_weights(cfg):
    D, F, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    H, KVH = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    hd = cfg.get("head_dim") or D // H
    qkv_bias = cfg["model_type"] == "qwen2" or cfg.get("attention_bias", False)
    o_bias = cfg["model_type"] != "qwen2" and cfg.get("attention_bias", False)
    mlp_bias = cfg.get("mlp_bias", False)
    W = {"embed_tokens.weight": torch.randn(V, D)}

    def linear(name, n_in, n_out, bias):
        W[name + ".weight"] = torch.randn(n_out, n_in) / math.sqrt(n_in)
        if bias:
            W[name + ".bias"] = 0.3 * torch.randn(n_out)

    for l in range(cfg["num_hidden_layers"]):
        p = f"layers.{l}."
        W[p + "input_layernorm.weight"] = 1 + 0.2 * torch.randn(D)
        W[p + "post_attention_layernorm.weight"] = 1 + 0.2 * torch.randn(D)
        linear(p + "self_attn.q_proj", D, H * hd, qkv_bias)
        linear(p + "self_attn.k_proj", D, KVH * hd, qkv_bias)
        linear(p + "self_attn.v_proj", D, KVH * hd, qkv_bias)
        linear(p + "self_attn.o_proj", H * hd, D, o_bias)
        linear(p + "mlp.gate_proj", D, F, mlp_bias)
        linear(p + "mlp.up_proj", D, F, mlp_bias)
        linear(p + "mlp.down_proj", F, D, mlp_bias)
    W["norm.weight"] = 1 + 0.2 * torch.randn(D)
    if not cfg.get("tie_word_embeddings", False):
        W["lm_head.weight"] = torch.randn(V, D) / math.sqrt(D)
    return W


def write_safetensors(path, tensors, dtype):
    """tensors: HF key → float32 tensor, stored as dtype ('F32' or 'BF16')."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        if dtype == "BF16":
            raw = t.to(torch.bfloat16).view(torch.int16).numpy().tobytes()
        else:
            raw = t.float().numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def stored(W, dtype):
    """The float32 values colora loads from weights stored as dtype."""
    return {k: v.to(torch.bfloat16).float() if dtype == "BF16" else v for k, v in W.items()}


def make(out, name, cfg, dtype="F32", shards=1, T=8):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    W = random_weights(cfg)
    keys = {("lm_head.weight" if k == "lm_head.weight" else "model." + k): v for k, v in W.items()}
    if shards == 1:
        write_safetensors(os.path.join(d, "model.safetensors"), keys, dtype)
    else:
        names = sorted(keys)
        weight_map = {}
        for i in range(shards):
            part = names[i::shards]
            file = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
            write_safetensors(os.path.join(d, file), {k: keys[k] for k in part}, dtype)
            weight_map.update({k: file for k in part})
        with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f, indent=1)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    Wf = stored(W, dtype)
    V = cfg["vocab_size"]
    ids = torch.randint(0, V, (2, T))
    with torch.no_grad():
        logits = forward(cfg, Wf, ids)
        prompts = [[int(i) for i in torch.randint(0, V, (n,))] for n in (5, 3)]
        outs = [greedy(cfg, Wf, p, 6) for p in prompts]
    expected = {
        "input_ids": ids.tolist(),
        "logits": [[[round(float(x), 6) for x in row] for row in seq] for seq in logits],
        "greedy": {"prompts": prompts, "output_ids": outs},
    }
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))


BASE = {
    "model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 48, "hidden_size": 16,
    "intermediate_size": 24, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
    "max_position_embeddings": 32, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "hidden_act": "silu",
    "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2,
}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        assert e["dtype"] == "F32", e["dtype"]
        b, end = e["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[b:end]), dtype=torch.float32).reshape(e["shape"])
    return out


def check(d):
    """This reference against a fixture made by transformers itself (../shared/fixtures/tiny-llama)."""
    cfg = json.load(open(os.path.join(d, "config.json")))
    W = {k[len("model."):] if k.startswith("model.") else k: v for k, v in read_safetensors(os.path.join(d, "model.safetensors")).items()}
    exp = json.load(open(os.path.join(d, "expected_logits.json")))
    with torch.no_grad():
        got = forward(cfg, W, torch.tensor(exp["input_ids"]))
    print(f"{d}: max |reference - expected| = {(got - torch.tensor(exp['logits'])).abs().max().item():.2e}")


def main(out):
    make(out, "tied", {**BASE, "tie_word_embeddings": True})
    make(out, "bf16", {**BASE, "torch_dtype": "bfloat16"}, dtype="BF16")
    make(out, "sharded", {**BASE, "eos_token_id": [2, 3]}, shards=3)
    make(out, "qwen2-bias", {**BASE, "model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"], "rope_theta": 1000000.0,
                             "use_sliding_window": False, "sliding_window": 4, "tie_word_embeddings": True})
    make(out, "attention-bias", {**BASE, "attention_bias": True, "mlp_bias": True, "num_key_value_heads": 4})
    make(out, "head-dim", {**BASE, "head_dim": 8, "num_key_value_heads": 1})
    # head_dim 8: wavelengths 6.3, 167, 4443, 1.2e5 fall in all three llama3 bands (kept, smoothed, divided).
    make(out, "llama3-rope", {**BASE, "rope_theta": 500000.0, "max_position_embeddings": 64, "head_dim": 8,
                              "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                               "high_freq_factor": 8.0, "original_max_position_embeddings": 256}})
    make(out, "linear-rope", {**BASE, "rope_scaling": {"type": "linear", "factor": 4.0}})
    make(out, "mistral", {**BASE, "model_type": "mistral", "architectures": ["MistralForCausalLM"], "sliding_window": 16})


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--check":
        check(sys.argv[2])
    else:
        main(sys.argv[1] if len(sys.argv) > 1 else "test/fixtures/llama-family")
