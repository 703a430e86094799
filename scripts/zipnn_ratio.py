"""ZipNN on the bytes scripts/bench-lossless.ts dumped (same tensors, same run): for each tensor of index.json, compress
its bf16 / fp16 bytes with zipnn (defaults: method AUTO, byte input, threads 1), decompress, check bit-exactness, and
print one JSON line {version, bf16, f16, msBf16, msF16} (compressed bytes summed per dtype). Run by the venv of
scripts/setup-zipnn.sh (zipnn pins torch), never in CI.

    .cache/zipnn-venv/bin/python scripts/zipnn_ratio.py <dump dir with index.json, bf16.bin, f16.bin>
"""
import json
import os
import sys
import time
from importlib.metadata import version

from zipnn import ZipNN

d = sys.argv[1]
index = json.load(open(os.path.join(d, "index.json")))
data = {k: open(os.path.join(d, f"{k}.bin"), "rb").read() for k in ("bf16", "f16")}
coders = {"bf16": ZipNN(bytearray_dtype="bfloat16", input_format="byte", threads=1),
          "f16": ZipNN(bytearray_dtype="float16", input_format="byte", threads=1)}
out = {"version": version("zipnn"), "bf16": 0, "f16": 0, "msBf16": 0.0, "msF16": 0.0}
for t in index:
    raw = data[t["dtype"]][t["offset"]:t["offset"] + t["bytes"]]
    t0 = time.perf_counter()
    z = coders[t["dtype"]].compress(bytearray(raw))  # zipnn rewrites its input buffer in place: give it a copy
    t1 = time.perf_counter()
    back = coders[t["dtype"]].decompress(z)
    if bytes(back) != raw:
        sys.exit(f"codecllm: zipnn round trip differs on {t['name']} ({t['dtype']}) [E_CODEC]")
    out[t["dtype"]] += len(z)
    out["msBf16" if t["dtype"] == "bf16" else "msF16"] += (t1 - t0) * 1e3
print(json.dumps(out))
