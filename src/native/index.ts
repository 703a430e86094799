/**
 * codecllm/native: the native addon (build info, one error path) and GPU memory from TypeScript — device buffers,
 * the VRAM ledger, CUDA timing, copy bandwidth.
 *
 * @example
 * import { nativeInfo, cudaAvailable, vramLedger } from 'codecllm/native';
 * nativeInfo().available; if (cudaAvailable()) vramLedger().byTag;
 */
export { nativeInfo, loadNative, isNativeError } from './addon.js';
export type { NativeInfo, NativeBuildInfo, NativeDeviceInfo, NativeErrorFields } from './addon.js';
export { cudaAvailable, deviceInfo, DeviceBuffer, vramLedger, leakedBuffers, trimScratch, deviceSynchronize, CudaTimer, timeDevice, copyBandwidth } from './device.js';
export type { VramLedger, CopyBandwidth } from './device.js';
