// No-device tests of the subgroup kernel variants' gating: tuner candidates only with the 'subgroups' feature
// (as init records it in the limits), never a fallback, and a typed error for a plan that needs the feature.
import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/index.js';
import { hasSubgroups } from '../../src/gpu/device.js';
import { chooseConv2d, conv2dCandidates, convAttrs } from '../../src/ops/conv2d.js';
import { chooseGemm, gemmCandidates } from '../../src/ops/matmul.js';
import { convDims } from '../../src/ops/conv_geometry.js';
import { requireSubgroups } from '../../src/ops/wgtile.js';

/** WebGPU's default compute limits, without and with the subgroup sizes init records for the feature. */
const plain = {
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupSizeY: 256,
  maxComputeWorkgroupStorageSize: 16384,
};
const withSubgroups = { ...plain, subgroupMinSize: 32, subgroupMaxSize: 32 };
const d = convDims('conv2d', [2, 9, 9, 8], [3, 3, 8, 16], convAttrs('conv2d', { padding: 'same' }));

describe('subgroup variants', () => {
  it('are GEMM and conv2d forward candidates exactly where the limits say the device has subgroups', () => {
    expect(hasSubgroups(plain)).toBe(false);
    expect(hasSubgroups(withSubgroups)).toBe(true);
    expect(gemmCandidates(plain).some((c) => c.kernel === 'subgroup')).toBe(false);
    expect(conv2dCandidates(d, plain).some((c) => c.variant === 'wgtile_subgroup')).toBe(false);
    // One per workgroup tile the device fits, as for 'wgtile'.
    const tiles = (cs: { tile?: unknown }[]) => cs.map((c) => JSON.stringify(c.tile));
    const gemm = gemmCandidates(withSubgroups);
    expect(tiles(gemm.filter((c) => c.kernel === 'subgroup'))).toEqual(
      tiles(gemm.filter((c) => c.kernel === 'wgtile')),
    );
    const conv = conv2dCandidates(d, withSubgroups) as { variant: string; tile?: unknown }[];
    expect(tiles(conv.filter((c) => c.variant === 'wgtile_subgroup'))).toEqual(
      tiles(conv.filter((c) => c.variant === 'wgtile')),
    );
  });

  it('are never the fallback', () => {
    for (const cpu of [false, true]) {
      expect(chooseGemm(cpu).kernel).not.toBe('subgroup');
      expect(chooseConv2d(cpu, d).variant).not.toBe('wgtile_subgroup');
    }
  });

  it('need the feature: ArgumentError naming the op and the variant otherwise', () => {
    const what = "conv2d: kernel variant 'wgtile_subgroup'";
    expect(() => requireSubgroups(what, plain)).toThrow(ArgumentError);
    expect(() => requireSubgroups(what, plain)).toThrow(
      "conv2d: kernel variant 'wgtile_subgroup' needs a device with the 'subgroups' feature, which this adapter lacks",
    );
    expect(() => requireSubgroups(what, withSubgroups)).not.toThrow();
  });
});
