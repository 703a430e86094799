// CPU codecs (native: libzstd, liblz4, zlib, snappy, libxxhash): bit-exact round trips on seeded random and
// structured data, strict size checks, corrupt/truncated input -> E_CODEC (never a crash), XXH64 spec vectors.
import assert from 'node:assert/strict';
import { inflateRawSync, deflateRawSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { CPU_CODECS, cpuCodecVersions, cpuCompress, cpuDecompress, xxhash64, type CpuCodec } from '../src/codec/cpu.js';
import { CodecLLMError, msg } from '../src/messages.js';
import { rng } from '../src/util/random.js';
import { bf16Weights } from './codec-helpers.js';


function randomBytes(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(r() * 256);
  return out;
}


/** int8 codes with a peaked distribution (like quantized weights). */
function int8Codes(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round(12 * Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r())) & 0xff;
  return out;
}

const text = new TextEncoder().encode('the quick brown fox jumps over the lazy dog. '.repeat(2000));

const inputs: [string, Uint8Array][] = [
  ['empty', new Uint8Array(0)],
  ['1 byte', new Uint8Array([42])],
  ['2 bytes', new Uint8Array([0, 255])],
  ['zeros 64 KiB', new Uint8Array(65536)],
  ['random 1000', randomBytes(1000, 1)],
  ['random 65537', randomBytes(65537, 2)],
  ['bf16 weights 300k', bf16Weights(150_001, 3)],
  ['int8 codes 200k', int8Codes(200_003, 4)],
  ['text 90k', text],
  ['subarray view', randomBytes(5000, 5).subarray(7, 4007)],
];

const ALL: CpuCodec[] = [...CPU_CODECS];

function isCodecErr(e: unknown): boolean {
  return e instanceof CodecLLMError && e.code === 'E_CODEC';
}

describe('CPU codecs', () => {
  it('has all codec names', () => {
    assert.deepEqual([...CPU_CODECS].sort(), ['deflate', 'lz4', 'lz4frame', 'none', 'snappy', 'zstd']);
    const v = cpuCodecVersions();
    for (const k of ['zstd', 'lz4', 'zlib', 'xxhash'] as const) assert.match(v[k], /^\d+\.\d+\.\d+/);
  });

  for (const codec of ALL) {
    it(`${codec}: bit-exact round trip on seeded random and structured data`, () => {
      for (const [name, data] of inputs) {
        const z = cpuCompress(codec, data);
        assert.ok(z instanceof Uint8Array, name);
        const back = cpuDecompress(codec, z, data.length);
        assert.equal(back.length, data.length, `${codec} ${name} length`);
        assert.ok(Buffer.from(back).equals(Buffer.from(data.buffer, data.byteOffset, data.byteLength)), `${codec} ${name} bytes`);
        if (codec !== 'none' && (name.startsWith('zeros') || name.startsWith('text')))
          assert.ok(z.length < data.length / 10, `${codec} compresses ${name}: ${z.length} of ${data.length}`);
      }
    });

    it(`${codec}: wrong rawSize is an E_CODEC error`, () => {
      const data = inputs[6]![1];
      const z = cpuCompress(codec, data);
      for (const raw of [data.length - 1, data.length + 1, 0]) assert.throws(() => cpuDecompress(codec, z, raw), isCodecErr, `${codec} raw ${raw}`);
    });

    if (codec !== 'none')
      it(`${codec}: truncated and garbage inputs are E_CODEC errors, never a crash`, () => {
        const data = inputs[8]![1];
        const z = cpuCompress(codec, data);
        for (const cut of [0, 1, Math.floor(z.length / 2), z.length - 1])
          assert.throws(() => cpuDecompress(codec, z.subarray(0, cut), data.length), isCodecErr, `${codec} cut at ${cut}`);
        // trailing garbage
        const longer = new Uint8Array(z.length + 3);
        longer.set(z);
        longer.set([1, 2, 3], z.length);
        assert.throws(() => cpuDecompress(codec, longer, data.length), isCodecErr, `${codec} trailing bytes`);
        // random garbage of assorted sizes
        for (let s = 0; s < 50; s++) {
          const g = randomBytes(1 + (s * 37) % 400, 100 + s);
          assert.throws(() => cpuDecompress(codec, g, 1000), isCodecErr, `${codec} garbage ${s}`);
        }
      });

    it(`${codec}: seeded bit flips give E_CODEC or a same-size output, never a crash`, () => {
      const data = inputs[7]![1].subarray(0, 20000);
      const z = cpuCompress(codec, data);
      const r = rng(77);
      let errors = 0;
      for (let t = 0; t < 300; t++) {
        const bad = z.slice();
        const pos = Math.floor(r() * bad.length);
        bad[pos]! ^= 1 << Math.floor(r() * 8);
        try {
          const out = cpuDecompress(codec, bad, data.length);
          assert.equal(out.length, data.length);
        } catch (e) {
          assert.ok(isCodecErr(e), String(e));
          errors++;
        }
      }
      // framed codecs with checksums detect every flip; raw formats detect many (the .cllm chunk xxhash64 covers the rest)
      if (codec === 'lz4frame') assert.equal(errors, 300);
      if (codec === 'none') assert.equal(errors, 0);
    });
  }

  it('the error text comes from messages.ts', () => {
    assert.throws(
      () => cpuDecompress('none', new Uint8Array(3), 4),
      (e: unknown) => e instanceof CodecLLMError && e.message === msg.codecFailed('none', 'decompress', 'none: stored 3 bytes, expected 4'),
    );
    const z = cpuCompress('lz4', text);
    assert.throws(
      () => cpuDecompress('lz4', z, text.length + 5),
      (e: unknown) => e instanceof CodecLLMError && e.message === msg.codecFailed('lz4', 'decompress', `lz4 decompress: produced ${text.length} bytes, expected ${text.length + 5}`),
    );
    assert.throws(
      () => cpuCompress('brotli' as CpuCodec, text),
      (e: unknown) => e instanceof CodecLLMError && e.code === 'E_ARG' && e.message === msg.unknownCodec('brotli', CPU_CODECS),
    );
    assert.throws(
      () => cpuCompress('zstd', text, { level: 99 }),
      (e: unknown) => e instanceof CodecLLMError && e.code === 'E_ARG' && e.message === msg.badArg('zstd level', '99 is not an integer in [-7, 22]'),
    );
  });

  it('levels change the output and still round-trip', () => {
    const data = inputs[6]![1];
    for (const [codec, levels] of [['zstd', [-5, 1, 19]], ['lz4', [0, 9]], ['deflate', [1, 9]]] as const) {
      const sizes = levels.map((level) => {
        const z = cpuCompress(codec, data, { level });
        assert.ok(Buffer.from(cpuDecompress(codec, z, data.length)).equals(Buffer.from(data)));
        return z.length;
      });
      assert.ok(sizes[sizes.length - 1]! < sizes[0]!, `${codec} higher level is smaller: ${sizes.join(' ')}`);
    }
  });

  it('deflate decodes a raw deflate stream made by Python zlib 1.2.13 (a stored vector)', () => {
    // python3 -c "import zlib; data=b'codecllm raw deflate vector '*40+bytes(range(256));
    //   c=zlib.compressobj(9, zlib.DEFLATED, -15); print((c.compress(data)+c.flush()).hex())"
    const hex =
      '4bce4f494dcec9c955284a2c5748494dcb492c4955284b4d2ec92f52481e951b951b951b95a3408e8191899985958d9d83938b9b87978f5f4050485844544c5c42524a5a46564e5e4151495945554d5d43534b5b47574fdfc0d0c8d8c4d4ccdcc2d2cadac6d6cedec1d1c9d9c5d5cdddc3d3cbdbc7d7cf3f2030283824342c3c22322a3a26362e3e2131291968657a466656764e6e5e7e4161517149695979456555754d6d5d7d436353734b6b5b7b476757774f6f5fff848993264f993a6dfa8c99b366cf993b6ffe82858b162f59ba6cf98a95ab56af59bb6efd868d9b366fd9ba6dfb8e9dbb76efd9bb6fff8183870e1f397aecf88993a74e9f397beefc858b972e5fb97aedfa8d9bb76edfb97beffe83878f1e3f79faecf98b97af5ebf79fbeefd878f9f3e7ff9faedfb8f9fbf7efff9fbef3f00';
    const want = new Uint8Array([...new TextEncoder().encode('codecllm raw deflate vector '.repeat(40)), ...Array.from({ length: 256 }, (_, i) => i)]);
    const got = cpuDecompress('deflate', Buffer.from(hex, 'hex'), want.length);
    assert.ok(Buffer.from(got).equals(Buffer.from(want)));
  });

  // Note: inside Node the zlib API symbols resolve to Node's bundled zlib (Node exports deflate/inflate), so this
  // checks the raw format round trip through node:zlib's stream API, not an independent implementation.
  it('deflate is raw RFC 1951 deflate: interoperates with node:zlib deflateRaw/inflateRaw', () => {
    for (const [, data] of inputs) {
      const ours = cpuCompress('deflate', data);
      assert.ok(Buffer.from(inflateRawSync(ours)).equals(Buffer.from(data.buffer, data.byteOffset, data.byteLength)));
      const theirs = deflateRawSync(data);
      assert.ok(Buffer.from(cpuDecompress('deflate', theirs, data.length)).equals(Buffer.from(data.buffer, data.byteOffset, data.byteLength)));
    }
  });
});

describe('xxhash64', () => {
  // Reference values computed independently with Python's xxhash 3.5.0 (which bundles its own copy of the xxHash
  // C source): python3 -c "import xxhash; print(hex(xxhash.xxh64(b'a', seed=0).intdigest()))". The "" value
  // 0xef46db3751d8e999 is also the one printed in the xxHash specification / README.
  const enc = (s: string) => new TextEncoder().encode(s);
  const ramp = new Uint8Array(1024).map((_, i) => i & 0xff);
  const vectors: [string, Uint8Array, bigint, bigint][] = [
    ['""', enc(''), 0n, 0xef46db3751d8e999n],
    ['"a"', enc('a'), 0n, 0xd24ec4f1a98c6e5bn],
    ['"abc"', enc('abc'), 0n, 0x44bc2cf5ad770999n],
    ['"" seed 1', enc(''), 1n, 0xd5afba1336a3be4bn],
    ['"a" seed 1', enc('a'), 1n, 0xdec2bc81c3cd46c6n],
    ['"xxhash"', enc('xxhash'), 0n, 0x32dd38952c4bc720n],
    ['"xxhash" seed 20141025', enc('xxhash'), 20141025n, 0xb559b98d844e0635n],
    ['ramp 1024', ramp, 0n, 0x6f3914f18fe4df57n],
    ['ramp 1024 seed 2^64-ish', ramp, 0x9e3779b185ebca87n, 0xdac5100d94914d1dn],
  ];
  for (const [name, data, seed, want] of vectors)
    it(`XXH64(${name}) = 0x${want.toString(16)}`, () => assert.equal(xxhash64(data, seed), want));

  it('hashes only the view of a subarray', () => {
    const big = new Uint8Array(2048);
    big.set(ramp, 100);
    assert.equal(xxhash64(big.subarray(100, 1124)), 0x6f3914f18fe4df57n);
  });

  it('rejects seeds outside 64 bits', () => {
    assert.throws(() => xxhash64(ramp, -1n), (e: unknown) => e instanceof CodecLLMError && e.code === 'E_ARG');
    assert.throws(() => xxhash64(ramp, 1n << 64n), (e: unknown) => e instanceof CodecLLMError && e.code === 'E_ARG');
  });
});
