// Every WGSL file compiles on the adapter in use and builds a compute pipeline with its default constants; a file
// that enables an extension ('enable subgroups;') is skipped, with the reason, where the device lacks the feature.
import { describe, expect, it } from 'vitest';
import { shaderSources, type ShaderName } from '../../src/gpu/shaders.js';
import { state } from '../../src/graph/state.js';
import { requireFeature, useGpu } from '../helpers.js';

useGpu();

describe('shaders', () => {
  it('has at least one shader, each with a purpose line', () => {
    const names = Object.keys(shaderSources);
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect(shaderSources[name as ShaderName].startsWith('// ')).toBe(true);
  });

  for (const name of Object.keys(shaderSources) as ShaderName[]) {
    it(`${name}.wgsl compiles`, async (ctx) => {
      for (const [, extension] of shaderSources[name].matchAll(/^enable (\w+);/gm)) {
        // WGSL's extension names are the device features' except f16 (feature 'shader-f16').
        requireFeature(ctx, extension === 'f16' ? 'shader-f16' : extension);
      }
      const device = state.runtime!.device;
      device.pushErrorScope('validation');
      const module = device.createShaderModule({ code: shaderSources[name] });
      const info = await module.getCompilationInfo();
      const errors = info.messages
        .filter((m) => m.type === 'error')
        .map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
      expect(errors, errors.join('\n')).toEqual([]);
      await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' } });
      const error = await device.popErrorScope();
      expect(error?.message ?? null).toBeNull();
    });
  }
});
