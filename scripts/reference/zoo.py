#!/usr/bin/env python3
"""The architecture zoo: tiny random-weight Hugging Face checkpoints + float32 reference logits from transformers.

Runs where torch + transformers are installed (the GPU host: torch 2.11, transformers 5.17; CPU, float32, eager
attention). For each architecture it builds a tiny model from its transformers config class, draws seeded random
weights with real-model-like scales (linears N(0, 1/fan_in), embeddings N(0, 1), norms 1 + 0.1·N(0, 1) — Gemma's
(1 + w) norms: 0.1·N(0, 1)), rounds them to bfloat16 (so the checkpoint is stored in bf16, half the bytes, and both
sides compute from the same float32 values), saves it with save_pretrained, and stores the logits of a fixed
16-token input plus a greedy continuation.

  llama-rope3   LlamaForCausalLM, rope_scaling llama3, untied lm_head
  qwen2         Qwen2ForCausalLM (q/k/v bias), tied
  qwen3         Qwen3ForCausalLM (q/k RMSNorm, head_dim ≠ hidden/heads)
  mistral       MistralForCausalLM, sliding_window 6 (< 16 tokens)
  gemma2        Gemma2ForCausalLM: attention soft-cap 50, final soft-cap 30, alternating local/global, window 6
  gemma3        Gemma3ForCausalLM: q/k norm, local rope base 10000, global 1e6, window 6, pattern 3
  phi3          Phi3ForCausalLM: fused qkv_proj / gate_up_proj (codecllm refuses it with E_ARCH)

Writes data/reference/zoo/<name>/{config.json, model.safetensors, reference.json, logits.f32} (a few tens of KB each).
reference.json: ids, greedy ids, logits shape, library versions, date. test/zoo.test.ts loads each one on the tfjs
reference and compares (or checks the E_ARCH refusal); it skips with a message until these files exist.

Usage (repository root, GPU host):  python3 scripts/reference/zoo.py [--only gemma3 ...]
"""
import argparse, datetime, json, os, platform, shutil, sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "data", "reference", "zoo")
IDS = [2, 17, 99, 3, 120, 42, 42, 7, 1, 64, 100, 127, 5, 9, 77, 31]  # 16 tokens, vocab 128
GREEDY = 8
COMMON = dict(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-6, bos_token_id=2, eos_token_id=1,
              pad_token_id=0)


def cases():
    import transformers as T
    rope3 = {"rope_type": "llama3", "factor": 4.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
             "original_max_position_embeddings": 16}
    return {
        "llama-rope3": (T.LlamaConfig, T.LlamaForCausalLM,
                        dict(COMMON, tie_word_embeddings=False, rope_theta=10000.0, rope_scaling=rope3), False),
        "qwen2": (T.Qwen2Config, T.Qwen2ForCausalLM, dict(COMMON, tie_word_embeddings=True, rope_theta=1e6), False),
        "qwen3": (T.Qwen3Config, T.Qwen3ForCausalLM,
                  dict(COMMON, head_dim=16, tie_word_embeddings=True, rope_theta=1e6), False),
        "mistral": (T.MistralConfig, T.MistralForCausalLM,
                    dict(COMMON, tie_word_embeddings=False, sliding_window=6, rope_theta=1e6), False),
        "gemma2": (T.Gemma2Config, T.Gemma2ForCausalLM,
                   dict(COMMON, num_hidden_layers=2, head_dim=16, query_pre_attn_scalar=16, sliding_window=6,
                        attn_logit_softcapping=50.0, final_logit_softcapping=30.0,
                        layer_types=["sliding_attention", "full_attention"], hidden_activation="gelu_pytorch_tanh"), True),
        "gemma3": (T.Gemma3TextConfig, T.Gemma3ForCausalLM,
                   dict(COMMON, num_hidden_layers=3, num_key_value_heads=1, head_dim=16, query_pre_attn_scalar=16,
                        sliding_window=6, layer_types=["sliding_attention", "sliding_attention", "full_attention"],
                        rope_theta=1e6, rope_local_base_freq=10000.0, hidden_activation="gelu_pytorch_tanh"), True),
        "phi3": (T.Phi3Config, T.Phi3ForCausalLM, dict(COMMON, tie_word_embeddings=False, rope_theta=10000.0), False),
    }


def build(cfg_cls, kw):
    """The config, with its rope settings really in it: transformers 4 takes rope_theta / rope_scaling /
    rope_local_base_freq; transformers 5 wants rope_parameters (and may keep unknown keywords silently), so the
    saved config is checked for them and rebuilt the 5.x way when they are missing."""
    def has_rope(cfg):
        text = json.dumps(cfg.to_dict(), default=str)
        want = [str(kw.get("rope_theta", ""))] if "rope_theta" in kw else []
        if "rope_scaling" in kw:
            want.append("llama3")
        if "rope_local_base_freq" in kw:
            want.append(str(kw["rope_local_base_freq"]))
        return all(w in text for w in want)

    try:
        cfg = cfg_cls(**kw)
        if has_rope(cfg):
            return cfg
    except TypeError:
        pass
    kw = dict(kw)
    rp = {"rope_theta": kw.pop("rope_theta", 10000.0), "rope_type": "default"}
    if "rope_scaling" in kw:
        rp.update(kw.pop("rope_scaling"))
    if "rope_local_base_freq" in kw:
        rp = {"full_attention": rp, "sliding_attention": {"rope_type": "default", "rope_theta": kw.pop("rope_local_base_freq")}}
    cfg = cfg_cls(**kw, rope_parameters=rp)
    assert has_rope(cfg), f"{cfg_cls.__name__}: rope settings lost: {cfg.to_dict()}"
    return cfg


def randomize(model, gemma, torch):
    g = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                v = (0 if gemma else 1) + 0.1 * torch.randn(p.shape, generator=g)
            elif "embed_tokens" in name:
                v = torch.randn(p.shape, generator=g)
            elif name.endswith(".bias"):
                v = 0.1 * torch.randn(p.shape, generator=g)
            else:
                v = torch.randn(p.shape, generator=g) / (p.shape[-1] ** 0.5)
            p.copy_(v.to(torch.bfloat16).to(torch.float32))  # bf16-representable: stored exactly in bf16


def main():
    import torch
    import transformers

    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*")
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    for name, (cfg_cls, model_cls, kw, gemma) in cases().items():
        if a.only and name not in a.only:
            continue
        cfg = build(cfg_cls, kw)
        cfg._attn_implementation = "eager"
        torch.manual_seed(0)
        model = model_cls(cfg).to(torch.float32).eval()
        randomize(model, gemma, torch)
        if getattr(cfg, "tie_word_embeddings", False):
            model.tie_weights()
        d = os.path.join(OUT, name)
        shutil.rmtree(d, ignore_errors=True)
        model.to(torch.bfloat16).save_pretrained(d)
        model.to(torch.float32)
        with torch.no_grad():
            x = torch.tensor([IDS])
            logits = model(x).logits[0].float().numpy()
            greedy = model.generate(x, max_new_tokens=GREEDY, do_sample=False, attention_mask=torch.ones_like(x),
                                    pad_token_id=0)[0, len(IDS):].tolist()
        logits.astype("<f4").tofile(os.path.join(d, "logits.f32"))
        for extra in ("generation_config.json",):
            p = os.path.join(d, extra)
            if os.path.exists(p):
                os.remove(p)
        meta = {"format_version": 1, "name": name, "architecture": model_cls.__name__, "ids": IDS, "greedy_ids": greedy,
                "logits_shape": list(logits.shape), "logits_file": "logits.f32", "weights_dtype": "bfloat16",
                "reference": {"torch": torch.__version__, "transformers": transformers.__version__, "device": "cpu",
                              "dtype": "float32", "attn_implementation": "eager", "python": platform.python_version(),
                              "date": datetime.date.today().isoformat()}}
        with open(os.path.join(d, "reference.json"), "w") as f:
            json.dump(meta, f, indent=1)
            f.write("\n")
        size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
        print(f"{name}: {model_cls.__name__}, {size} bytes, greedy {greedy}", file=sys.stderr)


if __name__ == "__main__":
    main()
