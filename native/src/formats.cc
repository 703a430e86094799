// formats.cc — the addon's view of the one format table (common/weight_types.h, common/blocks.h).
//
// JS API (registered by InitFormats):
//   blockFormats() -> [{id, name, kind: 'element'|'block'|'layout', blockElems, blockBytes}] in id order; the TS
//       twin src/formats/dtypes.ts (DTYPES, ENGINE_LAYOUTS) must equal it (test/native-blocks.test.ts).
//   dequantBlocks(type: id|name, blocks: Uint8Array) -> Float32Array (nblocks * blockElems): every block through
//       the table's dequant_block (bit-exact twin of gguf.quants.dequantize; checked by test/native-blocks.test.ts).
#include <napi.h>

#include <string>

#include "binding.h"
#include "common/weight_types.h"

namespace {

using namespace codecllm;

Napi::Value BlockFormats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  static const char* const kKinds[3] = {"element", "block", "layout"};
  Napi::Array out = Napi::Array::New(env);
  uint32_t k = 0;
  for (const WeightTypeInfo& t : WeightTypeTable()) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("id", (int)t.id);
    o.Set("name", t.name);
    o.Set("kind", kKinds[t.kind]);
    o.Set("blockElems", t.block_elems);
    o.Set("blockBytes", t.block_bytes);
    out.Set(k++, o);
  }
  return out;
}

Napi::Value DequantBlocks(const Napi::CallbackInfo& info) {
  const int id = ArgWeightType(info, 0, "type");
  const WeightTypeInfo* t = WeightTypeById(id);
  CHECK_ARG(t && t->kind == kKindBlock, std::string("dequantBlocks: '") + WeightTypeName(id) + "' is not a GGML block type");
  Bytes b = ArgBytes(info, 1, "blocks");
  CHECK_ARG(b.size % (size_t)t->block_bytes == 0, std::string("dequantBlocks: ") + std::to_string(b.size) + " bytes is not a whole number of " +
                                                      t->name + " blocks (" + std::to_string(t->block_bytes) + " bytes each)");
  const size_t nblk = b.size / (size_t)t->block_bytes;
  CHECK_ARG(nblk <= ((size_t)1 << 40) / (size_t)t->block_elems, "dequantBlocks: too many blocks");
  Napi::Float32Array out = Napi::Float32Array::New(info.Env(), nblk * (size_t)t->block_elems);
  for (size_t i = 0; i < nblk; i++) t->dequant(b.data + i * t->block_bytes, out.Data() + i * t->block_elems);
  return out;
}

}  // namespace

void InitFormats(Napi::Env env, Napi::Object exports) {
  EXPORT_FN(env, exports, "blockFormats", BlockFormats);
  EXPORT_FN(env, exports, "dequantBlocks", DequantBlocks);
}
