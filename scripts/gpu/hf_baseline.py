#!/usr/bin/env python3
"""Peer baseline for the GPU engine bench (issue 5): Hugging Face transformers, eager attention, fp16, batch 1 and 8.

Builds LlamaForCausalLM from a config (random weights: speed only), prefills `--prefill` random tokens and times
`--tokens` greedy decode steps with the KV cache (CUDA events around each step, median and mean reported), and the
prefill throughput (and, with --prefill-lens, prefill tok/s at each length: prefill_by_len); then the same decode at batch 8 (8 random prompts of `--prefill` tokens, `--tokens-b8` steps,
median ms per step). Prints one JSON object per shape and writes them all to --json.

  python3 scripts/gpu/hf_baseline.py --shapes smollm2,tinyllama --prefill 128 --tokens 128 --json hf.json
"""
import argparse
import json
import statistics
import sys
import time

import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM

SHAPES = {
    # SmolLM2-135M-Instruct (the default model's shape)
    "smollm2": dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                    num_key_value_heads=3, vocab_size=49152, rms_norm_eps=1e-5, rope_theta=100000.0,
                    max_position_embeddings=8192, tie_word_embeddings=True),
    # TinyLlama-1.1B
    "tinyllama": dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
                      num_key_value_heads=4, vocab_size=32000, rms_norm_eps=1e-5, rope_theta=10000.0,
                      max_position_embeddings=2048, tie_word_embeddings=False),
    # Llama-3.1-8B (rope scaling left out: it changes no timing)
    "llama3.1-8b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
                        num_key_value_heads=8, vocab_size=128256, rms_norm_eps=1e-5, rope_theta=500000.0,
                        max_position_embeddings=131072, tie_word_embeddings=False),
}


def build(shape):
    cfg = LlamaConfig(**SHAPES[shape], attn_implementation="eager")
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = LlamaForCausalLM(cfg)
    model = model.to(torch.float16).eval()
    try:
        model.set_attn_implementation("eager")
    except Exception:
        pass
    return model, cfg


def decode_steps(model, out, n, warmup=0):
    """Greedy decode from a forward output `out` (with its KV cache): ms of each of n CUDA-event-timed steps."""
    nxt = out.logits[:, -1].argmax(-1, keepdim=True)
    pkv = out.past_key_values
    steps = []
    for i in range(warmup + n):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        out = model(input_ids=nxt, past_key_values=pkv, use_cache=True)
        pkv = out.past_key_values
        nxt = out.logits[:, -1].argmax(-1, keepdim=True)
        b.record()
        if i >= warmup:
            steps.append((a, b))
    torch.cuda.synchronize()
    return [a.elapsed_time(b) for a, b in steps]


@torch.inference_mode()
def compiled_generate(model, prompt, tokens):
    """HF's own generate with a static KV cache, which transformers 5 compiles itself (torch.compile of the decoding
    forward, its default compile_config: fullgraph, mode "reduce-overhead"; compiling model.forward by hand as well
    fails there with "accessing tensor output of CUDAGraphs that has been overwritten"). ms/token = (time of generate(tokens) - time of generate(tokens // 4)) / (tokens - tokens // 4),
    so the prefill and the first step cancel; median of 3 pairs after 3 warm-up calls (compilation)."""
    model.generation_config.cache_implementation = "static"
    kw = dict(do_sample=False, pad_token_id=0)
    def run(n):
        torch.cuda.synchronize()
        t = time.perf_counter()
        model.generate(prompt, max_new_tokens=n, min_new_tokens=n, **kw)
        torch.cuda.synchronize()
        return (time.perf_counter() - t) * 1000
    t0 = time.perf_counter()
    for _ in range(3):
        run(tokens)
    warm = time.perf_counter() - t0
    short = tokens // 4
    per = sorted((run(tokens) - run(short)) / (tokens - short) for _ in range(3))
    return dict(compiled_decode_ms_per_token_median=per[1], compiled_warmup_s=warm, compiled_recipe="generate(cache_implementation=static): transformers' automatic torch.compile of the decoding step")


@torch.inference_mode()
def prefill_by_len(model, cfg, lens, g):
    """Prefill tok/s of one fresh forward of T random tokens (no cache in), for each T: median of 5 after 2 warm-ups."""
    out = {}
    for T in lens:
        prompt = torch.randint(0, cfg.vocab_size, (1, T), device="cuda", generator=g)
        ms = []
        for i in range(7):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            model(input_ids=prompt, use_cache=True)
            b.record()
            torch.cuda.synchronize()
            if i >= 2:
                ms.append(a.elapsed_time(b))
        out[str(T)] = T / (statistics.median(ms) / 1000)
    return out


def bench(shape, prefill, tokens, tokens_b8=32, compile_=False, lens=()):
    model, cfg = build(shape)
    params = sum(p.numel() for p in model.parameters())
    g = torch.Generator(device="cuda").manual_seed(1)
    prompt = torch.randint(0, cfg.vocab_size, (1, prefill), device="cuda", generator=g)
    ev = lambda: torch.cuda.Event(enable_timing=True)
    # warm-up
    for _ in range(2):
        out = model(input_ids=prompt, use_cache=True)
        nxt = out.logits[:, -1].argmax(-1, keepdim=True)
        for _ in range(4):
            out = model(input_ids=nxt, past_key_values=out.past_key_values, use_cache=True)
            nxt = out.logits[:, -1].argmax(-1, keepdim=True)
    torch.cuda.synchronize()
    # prefill
    pre = []
    for _ in range(3):
        a, b = ev(), ev()
        a.record()
        out = model(input_ids=prompt, use_cache=True)
        b.record()
        torch.cuda.synchronize()
        pre.append(a.elapsed_time(b))
    # decode, batch 1
    t0 = time.perf_counter()
    ms = decode_steps(model, out, tokens)
    wall = (time.perf_counter() - t0) * 1000 / tokens
    # batch 8: 8 random prompts, two warm-up steps
    prompt8 = torch.randint(0, cfg.vocab_size, (8, prefill), device="cuda", generator=g)
    ms8 = decode_steps(model, model(input_ids=prompt8, use_cache=True), tokens_b8, warmup=2)
    res = dict(shape=shape, params=params, prefill_tokens=prefill, decode_tokens=tokens,
               prefill_ms=statistics.median(pre), prefill_tok_s=prefill / (statistics.median(pre) / 1000),
               decode_ms_per_token_median=statistics.median(ms), decode_ms_per_token_mean=statistics.mean(ms),
               decode_wall_ms_per_token=wall, decode_b8_ms_per_step_median=statistics.median(ms8), decode_b8_steps=tokens_b8, torch=torch.__version__, transformers=transformers.__version__,
               device=torch.cuda.get_device_name(0), dtype="float16", attn="eager", weights="random (config only)")
    if lens:
        res["prefill_by_len"] = prefill_by_len(model, cfg, lens, g)
    if compile_:
        try:
            res.update(compiled_generate(model, prompt, tokens))
        except Exception as e:  # report, don't lose the eager numbers
            res["compiled_error"] = f"{type(e).__name__}: {e}"[:400]
    del model
    torch.cuda.empty_cache()
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", default="smollm2,tinyllama")
    ap.add_argument("--prefill", type=int, default=128)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--tokens-b8", type=int, default=32)
    ap.add_argument("--json", default=None)
    ap.add_argument("--prefill-lens", default="", help="also prefill tok/s at these prompt lengths, e.g. 16,64,128,512 (prefill_by_len)")
    ap.add_argument("--compile", action="store_true", help="also HF generate with static cache + torch.compile")
    a = ap.parse_args()
    results = []
    for s in a.shapes.split(","):
        lens = [int(x) for x in a.prefill_lens.split(",") if x]
        r = bench(s, a.prefill, a.tokens, a.tokens_b8, a.compile, lens)
        print(json.dumps(r), flush=True)
        results.append(r)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
