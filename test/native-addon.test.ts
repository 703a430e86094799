// The native addon loads, reports its build, and turns C++ errors into JS Errors with a code (never a crash).
// Needs the addon built: `bash scripts/build-native.sh` (CI builds it before the tests).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CodecLLMError, msg } from '../src/messages.js';
import { isNativeError, loadNative, nativeInfo, requireNative, wrapNativeError } from '../src/native/addon.js';

describe('native addon', () => {
  it('is built and loads from native/build/Release', () => {
    const info = nativeInfo();
    assert.equal(info.built, true, `addon not built at ${info.path} ${info.loadError ?? ''}: run bash scripts/build-native.sh`);
    assert.match(info.path, /native[/\\]build[/\\]Release[/\\]codecllm_native\.node$/);
    assert.match(info.version, /^\d+\.\d+\.\d+$/);
    assert.equal(typeof info.cuda, 'boolean');
    assert.equal(info.nvcomp && !info.cuda, false, 'nvCOMP without CUDA is impossible');
    assert.equal(loadNative(), loadNative(), 'cached');
  });

  it('exposes the CPU codec functions and CUDA functions only in CUDA builds', () => {
    const n = requireNative('test');
    for (const f of ['cpuCompress', 'cpuDecompress', 'xxhash64', 'cpuCodecVersions', 'buildInfo'] as const)
      assert.equal(typeof n[f], 'function', f);
    const b = n.buildInfo();
    assert.equal(typeof n.deviceAlloc === 'function', b.cuda);
    assert.equal(typeof n.nvcompCompress === 'function', b.nvcomp);
    assert.equal(typeof b.cublas, 'boolean', 'buildInfo().cublas (the CUDA engine prefill GEMM through cuBLAS)');
    assert.equal(b.cublas && !b.cuda, false, 'cuBLAS without CUDA is impossible');
    assert.equal(b.napiVersion, 8);
  });

  for (const code of ['E_ARG', 'E_CODEC', 'E_CUDA', 'E_NVCOMP', 'E_OOM', 'E_NATIVE']) {
    it(`a C++ ${code} error becomes a JS Error with code, site and status`, () => {
      const n = requireNative('test');
      let caught: unknown;
      try {
        n.testThrow(code);
      } catch (e) {
        caught = e;
      }
      assert.ok(isNativeError(caught), 'native error');
      assert.equal(caught.code, code);
      assert.match(caught.site ?? '', /^info\.cc:\d+$/);
      assert.equal(caught.status, 'testStatus');
      assert.equal(caught.message, 'test error');
      const w = wrapNativeError(caught, { codec: 'zstd', op: 'decompress' });
      assert.ok(w instanceof CodecLLMError);
      assert.equal(w.code, code);
      const expected: Record<string, string> = {
        E_ARG: msg.nativeArg('test error'),
        E_CODEC: msg.codecFailed('zstd', 'decompress', 'test error'),
        E_CUDA: msg.cudaFailed('test error', caught.site!),
        E_NVCOMP: msg.nvcompFailed('?', '?', 'test error', caught.site!),
        E_OOM: msg.deviceOom('test error', caught.site!),
        E_NATIVE: msg.nativeFailed('test error', caught.site!),
      };
      assert.equal(w.message, expected[code]);
      assert.equal(w.cause, caught);
    });
  }

  it('bad arguments are E_ARG errors, not crashes', () => {
    const n = requireNative('test');
    assert.throws(() => n.cpuCompress('zstd', 'text' as unknown as Uint8Array), (e: unknown) => isNativeError(e) && e.code === 'E_ARG');
    assert.throws(() => n.cpuDecompress('zstd', new Uint8Array(4), -1), (e: unknown) => isNativeError(e) && e.code === 'E_ARG');
    assert.throws(() => n.cpuDecompress('zstd', new Uint8Array(4), 2 ** 40), (e: unknown) => isNativeError(e) && e.code === 'E_ARG');
    assert.throws(() => n.cpuCompress('brotli', new Uint8Array(4)), (e: unknown) => isNativeError(e) && e.code === 'E_ARG');
    assert.throws(() => (n.xxhash64 as (...a: unknown[]) => bigint)(), (e: unknown) => isNativeError(e) && e.code === 'E_ARG');
  });

  it('nvCOMP per-chunk errors name codec, op, tensor, chunk and status (fields as set by nvcomp.cc)', () => {
    const base = { native: true, code: 'E_NVCOMP', site: 'nvcomp.cc:1', codec: 'zstd', tensor: 'blk.0.w', op: 'decompress', chunks: '10' };
    const status = wrapNativeError(Object.assign(new Error('zstd decompress: 1 of 10 chunks failed'), base, { chunk: '3', status: 'nvcompErrorCannotDecompress' }));
    assert.ok(status instanceof CodecLLMError);
    assert.equal(status.code, 'E_NVCOMP');
    assert.equal(status.message, msg.nvcompChunkFailed('zstd', 'decompress', 'blk.0.w', '3', '10', 'nvcompErrorCannotDecompress'));
    assert.equal(status.message, "nvCOMP zstd decompress failed on tensor 'blk.0.w', chunk 3 of 10: nvcompErrorCannotDecompress");
    const size = wrapNativeError(Object.assign(new Error('x'), base, { chunk: '9', got: '100', expected: '3392' }));
    assert.equal((size as Error).message, msg.nvcompChunkSize('zstd', 'blk.0.w', '9', '10', '100', '3392'));
    const launch = wrapNativeError(Object.assign(new Error('nvcompBatchedZstdDecompressAsync(...): nvcompErrorInvalidValue'), base));
    assert.equal((launch as Error).message, msg.nvcompFailed('zstd', 'blk.0.w', 'nvcompBatchedZstdDecompressAsync(...): nvcompErrorInvalidValue', 'nvcomp.cc:1'));
    const cuda = wrapNativeError(Object.assign(new Error('cudaMemcpyAsync(...): cudaErrorIllegalAddress'), base, { code: 'E_CUDA' }));
    assert.equal((cuda as CodecLLMError).code, 'E_CUDA');
    assert.equal((cuda as Error).message, msg.nvcompFailed('zstd', 'blk.0.w', 'cudaMemcpyAsync(...): cudaErrorIllegalAddress', 'nvcomp.cc:1'));
  });

  it('non-native errors pass through wrapNativeError unchanged', () => {
    const e = new Error('plain');
    assert.equal(wrapNativeError(e), e);
  });
});
