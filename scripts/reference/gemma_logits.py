#!/usr/bin/env python3
"""Float32 reference logits for Gemma 3 270M from PyTorch + transformers, weights dequantized from OUR GGUF file.

Runs where torch + transformers are installed (the GPU host: torch 2.11, transformers 5.17; CPU is used, float32).
That host has no `gguf` package and no internet, so this script carries its own small GGUF reader and numpy
dequantizers (F32, F16, Q8_0, Q4_1, Q5_0, Q4_K, Q6_K: the same numpy arithmetic as gguf-py's gguf.quants) and checks
every tensor it dequantizes against the gguf.quants sha256 stored in test/fixtures/formats/model-dequant-sha256.json
(so the weights transformers sees are exactly the ones gguf-py and codecllm decode).

Then it builds Gemma3ForCausalLM from a Gemma3TextConfig stating what llama.cpp hard-codes for gemma3 (sliding
window pattern 6, local rope base 10000, query_pre_attn_scalar = head_dim) and loads the weights under Hugging Face
names. llama.cpp's converter stored every RMSNorm weight as 1 + w; transformers' Gemma3RMSNorm applies (1 + w), so the
script loads w = g - 1 (float32; 1 + (g - 1) == g exactly for g in [0.5, 2], within 1 ulp of g elsewhere).

Inputs: data/reference/gemma3-prompts.json (token ids, made with codecllm's tokenizer, which equals llama.cpp's).
Output: data/reference/gemma3-transformers.json, small: per case and stored position the top-64 logits (ids and values)
and the logsumexp over the whole vocabulary, plus a greedy continuation for the short case; versions and date.

Usage (from the repository root, on the GPU host, after `make setup` or with data/models/gemma-3-270m-q4_k_m.gguf):
    python3 scripts/reference/gemma_logits.py
"""
import datetime, hashlib, json, os, platform, struct, sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "data", "models", "gemma-3-270m-q4_k_m.gguf")
TOPK = 64

# ---------------------------------------------------------------- GGUF reader (v2/v3, little-endian)
SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
# ggml type -> (name, elements per block, bytes per block)
GGML = {0: ("F32", 1, 4), 1: ("F16", 1, 2), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22), 8: ("Q8_0", 32, 34),
        12: ("Q4_K", 256, 144), 14: ("Q6_K", 256, 210)}


class Reader:
    def __init__(self, buf):
        self.b, self.o = buf, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.b, self.o)[0]
        self.o += struct.calcsize(fmt)
        return v

    def string(self):
        n = self.take("<Q")
        s = bytes(self.b[self.o:self.o + n]).decode("utf-8", "replace")
        self.o += n
        return s

    def value(self, t):
        if t == 8:
            return self.string()
        if t == 9:
            it, n = self.take("<I"), self.take("<Q")
            return [self.value(it) for _ in range(n)]
        return self.take(SCALAR[t])


def read_gguf(path):
    buf = np.memmap(path, dtype=np.uint8, mode="r")
    r = Reader(buf)
    assert r.take("<I") == 0x46554747, "not a GGUF file"
    assert r.take("<I") in (2, 3), "GGUF version"
    n_t, n_kv = r.take("<Q"), r.take("<Q")
    meta = {}
    for _ in range(n_kv):
        k = r.string()
        meta[k] = r.value(r.take("<I"))
    infos = []
    for _ in range(n_t):
        name = r.string()
        ne = [r.take("<Q") for _ in range(r.take("<I"))]
        infos.append((name, ne, r.take("<I"), r.take("<Q")))
    align = meta.get("general.alignment", 32)
    data = (r.o + align - 1) // align * align
    tensors = {}
    for name, ne, t, off in infos:
        tname, be, bb = GGML[t]
        n = int(np.prod(ne))
        raw = np.asarray(buf[data + off: data + off + n // be * bb])
        tensors[name] = (tname, list(reversed(ne)), raw)
    return meta, tensors


# ---------------------------------------------------------------- dequantizers (gguf.quants' numpy arithmetic)
def f16(b):
    return b.view(np.float16).astype(np.float32)


def dequant(tname, raw, n):
    if tname == "F32":
        return raw.view("<f4").astype(np.float32)
    if tname == "F16":
        return f16(raw)
    be, bb = {"Q4_1": (32, 20), "Q5_0": (32, 22), "Q8_0": (32, 34), "Q4_K": (256, 144), "Q6_K": (256, 210)}[tname]
    blk = raw.reshape(-1, bb)
    nb = blk.shape[0]
    if tname == "Q8_0":
        d, x = f16(blk[:, :2]), blk[:, 2:].view(np.int8).astype(np.float32)
        return (x * d).reshape(-1)
    if tname == "Q4_1":
        d, m, qs = f16(blk[:, :2]), f16(blk[:, 2:4]), blk[:, 4:]
        q = (qs.reshape(nb, -1, 1, 16) >> np.array([0, 4], dtype=np.uint8).reshape(1, 1, 2, 1)) & np.uint8(0x0F)
        return ((d * q.reshape(nb, -1).astype(np.float32)) + m).reshape(-1)
    if tname == "Q5_0":
        d, qh, qs = f16(blk[:, :2]), blk[:, 2:6].copy().view(np.uint32), blk[:, 6:]
        qh = (qh.reshape(nb, 1) >> np.arange(32, dtype=np.uint32).reshape(1, 32)) & np.uint32(1)
        ql = (qs.reshape(nb, -1, 1, 16) >> np.array([0, 4], dtype=np.uint8).reshape(1, 1, 2, 1)) & np.uint8(0x0F)
        q = (ql.reshape(nb, -1) | (qh.astype(np.uint8) << np.uint8(4))).astype(np.int8) - np.int8(16)
        return (d * q.astype(np.float32)).reshape(-1)
    if tname == "Q4_K":
        d, dmin, sc, qs = f16(blk[:, :2]), f16(blk[:, 2:4]), blk[:, 4:16], blk[:, 16:]
        s = sc.reshape(nb, 3, 4)
        a, m, md = s[:, 0:1, :], s[:, 1:2, :], s[:, 2:3, :]
        scl = np.concatenate([a & 0x3F, (md & 0x0F) | ((a >> 2) & 0x30)], axis=-1).reshape(nb, 8)
        mn = np.concatenate([m & 0x3F, (md >> 4) | ((m >> 2) & 0x30)], axis=-1).reshape(nb, 8)
        dd = (d * scl.astype(np.float32)).reshape(nb, -1, 1)
        dm = (dmin * mn.astype(np.float32)).reshape(nb, -1, 1)
        q = (qs.reshape(nb, -1, 1, 32) >> np.array([0, 4], dtype=np.uint8).reshape(1, 1, 2, 1)) & np.uint8(0x0F)
        return (dd * q.reshape(nb, -1, 32).astype(np.float32) - dm).reshape(-1)
    if tname == "Q6_K":
        ql, qh, sc, d = blk[:, :128], blk[:, 128:192], blk[:, 192:208], f16(blk[:, 208:210])
        dd = (d * sc.view(np.int8).astype(np.float32)).reshape(nb, 16, 1)
        l = (ql.reshape(nb, -1, 1, 64) >> np.array([0, 4], dtype=np.uint8).reshape(1, 1, 2, 1)) & np.uint8(0x0F)
        h = (qh.reshape(nb, -1, 1, 32) >> np.array([0, 2, 4, 6], dtype=np.uint8).reshape(1, 1, 4, 1)) & np.uint8(0x03)
        q = (l.reshape(nb, -1, 32) | (h.reshape(nb, -1, 32) << np.uint8(4))).astype(np.int8) - np.int8(32)
        return (dd * q.reshape(nb, 16, -1).astype(np.float32)).reshape(-1)
    raise ValueError(tname)


# ---------------------------------------------------------------- Gemma 3 from the GGUF
GGUF_TO_HF = {"attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
              "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
              "ffn_down": "mlp.down_proj", "attn_norm": "input_layernorm", "post_attention_norm": "post_attention_layernorm",
              "ffn_norm": "pre_feedforward_layernorm", "post_ffw_norm": "post_feedforward_layernorm",
              "attn_q_norm": "self_attn.q_norm", "attn_k_norm": "self_attn.k_norm"}


def hf_name(g):
    if g == "token_embd.weight":
        return "model.embed_tokens.weight"
    if g == "output_norm.weight":
        return "model.norm.weight"
    _, l, mod, kind = g.split(".")
    return f"model.layers.{l}.{GGUF_TO_HF[mod]}.{kind}"


def sha256_file(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def main():
    import torch
    import transformers
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    want = json.load(open(os.path.join(ROOT, "test/fixtures/formats/model-dequant-sha256.json")))["models"][os.path.basename(MODEL)]
    file_sha = sha256_file(MODEL)
    assert file_sha == want["sha256"], "data/models holds another file than the hashes were made from"
    meta, tensors = read_gguf(MODEL)
    a = meta["general.architecture"]
    assert a == "gemma3", a
    L, h = meta[f"{a}.block_count"], meta[f"{a}.embedding_length"]
    hd = meta[f"{a}.attention.key_length"]
    state = {}
    for g, (tname, shape, raw) in tensors.items():
        n = int(np.prod(shape))
        x = dequant(tname, raw, n).astype("<f4", copy=False)
        assert hashlib.sha256(x.tobytes()).hexdigest() == want["tensors"][g]["sha256"], f"{g}: dequantized differently from gguf.quants"
        x = x.reshape(shape)
        if g.endswith("norm.weight"):
            x = x - np.float32(1)  # llama.cpp stored 1 + w; Gemma3RMSNorm applies 1 + w
        state[hf_name(g)] = torch.from_numpy(np.ascontiguousarray(x))
    print(f"dequantized {len(state)} tensors, all equal to gguf.quants", file=sys.stderr)

    layer_types = ["sliding_attention" if (i + 1) % 6 else "full_attention" for i in range(L)]
    common = dict(vocab_size=state["model.embed_tokens.weight"].shape[0], hidden_size=h,
                  intermediate_size=meta[f"{a}.feed_forward_length"], num_hidden_layers=L,
                  num_attention_heads=meta[f"{a}.attention.head_count"], num_key_value_heads=meta[f"{a}.attention.head_count_kv"],
                  head_dim=hd, rms_norm_eps=meta[f"{a}.attention.layer_norm_rms_epsilon"], query_pre_attn_scalar=hd,
                  sliding_window=meta[f"{a}.attention.sliding_window"], layer_types=layer_types,
                  max_position_embeddings=meta[f"{a}.context_length"], tie_word_embeddings=True,
                  hidden_activation="gelu_pytorch_tanh", final_logit_softcapping=None, attn_logit_softcapping=None,
                  bos_token_id=2, eos_token_id=1, pad_token_id=0)
    rope = {"full_attention": {"rope_type": "default", "rope_theta": float(meta[f"{a}.rope.freq_base"])},
            "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}
    try:  # transformers 5: per-layer-type rope_parameters
        cfg = Gemma3TextConfig(**common, rope_parameters=rope)
    except TypeError:  # transformers 4
        cfg = Gemma3TextConfig(**common, rope_theta=rope["full_attention"]["rope_theta"], rope_local_base_freq=10000.0)
    text = json.dumps(cfg.to_dict(), default=str)
    assert "10000.0" in text and "1000000.0" in text, f"rope bases not in the config: {text}"
    cfg._attn_implementation = "eager"
    model = Gemma3ForCausalLM(cfg).to(torch.float32).eval()
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if k != "lm_head.weight"]  # tied to the embeddings
    assert not missing and not unexpected, (missing, unexpected)
    model.tie_weights()

    prompts = json.load(open(os.path.join(ROOT, "data/reference/gemma3-prompts.json")))
    cases = []
    with torch.no_grad():
        for c in prompts["cases"]:
            x = torch.tensor([c["ids"]])
            logits = model(x).logits[0].float()
            pos = c["positions"]
            sel = logits[pos]
            top = torch.topk(sel, TOPK, dim=-1)
            case = {"name": c["name"], "ids": c["ids"], "positions": pos,
                    "top_ids": top.indices.tolist(), "top_logits": top.values.tolist(),
                    "logsumexp": torch.logsumexp(sel, dim=-1).tolist()}
            if c["greedy"]:
                out = model.generate(x, max_new_tokens=c["greedy"], do_sample=False, attention_mask=torch.ones_like(x), pad_token_id=0)
                case["greedy_ids"] = out[0, len(c["ids"]):].tolist()
            cases.append(case)
            print(f"{c['name']}: T={len(c['ids'])} top-1 at last position {case['top_ids'][-1][0]}", file=sys.stderr)
    doc = {"format_version": 1, "generator": "scripts/reference/gemma_logits.py", "model": os.path.basename(MODEL),
           "model_sha256": file_sha, "top_k": TOPK,
           "reference": {"torch": torch.__version__, "transformers": transformers.__version__, "numpy": np.__version__,
                         "device": "cpu", "dtype": "float32", "attn_implementation": "eager",
                         "python": platform.python_version(), "date": datetime.date.today().isoformat()},
           "config": cfg.to_dict() if hasattr(cfg, "to_dict") else None, "cases": cases}
    out = os.path.join(ROOT, "data/reference/gemma3-transformers.json")
    with open(out, "w") as f:
        json.dump(doc, f, default=str)
        f.write("\n")
    print(f"wrote {out} ({os.path.getsize(out)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
