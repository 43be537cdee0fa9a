// Sets up TensorFlow.js's WebGPU backend in Node on the same Dawn adapter that webgrad uses.
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core registers no gradients by itself (the tfjs umbrella package imports this); tf.grad needs them.
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { dawnInstance } from '../src/gpu/device.js';

/** tfjs with its WebGPU backend selected, and the adapter that backend's device came from. */
export interface TfjsWebgpu {
  tf: typeof tf;
  adapter: string;
}

/** All of an adapter's numeric limits, to request a device with. */
function adapterLimits(adapter: GPUAdapter): Record<string, number> {
  const limits: Record<string, number> = {};
  for (const key in adapter.limits) {
    const v = (adapter.limits as unknown as Record<string, unknown>)[key];
    if (typeof v === 'number') limits[key] = v;
  }
  return limits;
}

/**
 * Makes `navigator.gpu` (for tfjs and jax-js) a Dawn instance created with the flags webgrad uses for `backend`, loads
 * tfjs-backend-webgpu (it registers itself only if `navigator.gpu` exists when it loads) and selects it.
 * Call after webgrad's `init()`: in auto mode webgrad would otherwise take `navigator.gpu` for a browser.
 */
export async function setupTfjsWebgpu(backend: 'gpu' | 'llvmpipe' | 'swiftshader'): Promise<TfjsWebgpu> {
  const { instance, featureLevel } = await dawnInstance(backend);
  let adapterName = '(no adapter)';
  const gpu = {
    // tfjs asks only for a power preference; llvmpipe's OpenGL adapter exists only at the compatibility level.
    requestAdapter: async (options: GPURequestAdapterOptions = {}) => {
      const adapter = await instance.requestAdapter({ ...options, featureLevel });
      if (!adapter) return null;
      adapterName = adapter.info.description || adapter.info.device || adapter.info.vendor;
      // tfjs requests a few limits by name but not the storage-buffer counts, whose compatibility
      // defaults (4 per stage) are below what the adapter offers; webgrad gets all of the adapter's
      // limits, so tfjs gets them too.
      const limits = adapterLimits(adapter);
      const requestDevice = adapter.requestDevice.bind(adapter);
      adapter.requestDevice = (descriptor: GPUDeviceDescriptor = {}) =>
        requestDevice({ ...descriptor, requiredLimits: { ...limits, ...descriptor.requiredLimits } });
      return adapter;
    },
    // Dawn frees its threads with the instance: it must stay referenced while tfjs's device lives.
    instance,
  };
  // jax-js (bench/jax_models.ts) finds WebGPU through the same object, and reads a user agent beside it.
  const navigator = { gpu, userAgent: `Node.js/${process.version}` };
  Object.defineProperty(globalThis, 'navigator', { value: navigator, configurable: true, writable: true });
  await import('@tensorflow/tfjs-backend-webgpu');
  // Small tensors would otherwise run on tfjs's CPU kernels; the benchmark compares GPU kernels.
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs: the webgpu backend failed to initialize');
  return { tf, adapter: adapterName };
}
