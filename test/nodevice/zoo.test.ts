// No-device tests of the zoo: torchvision's state-dict keys one to one (shapes after OIHW→HWIO), eps, stages, errors.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ArgumentError, zoo } from '../../src/index.js';
import { torchFixtures, torchMissing } from '../torch.js';

/** A PyTorch shape as webgrad stores it: 4-D conv filters OIHW → HWIO, 2-D Linear [out,in] → [in,out]. */
function webgradShape(shape: number[]): number[] {
  if (shape.length === 4) return [shape[2], shape[3], shape[1], shape[0]];
  if (shape.length === 2) return [shape[1], shape[0]];
  return shape;
}

const build = (arch: zoo.ZooArch) =>
  zoo.buildZoo({ kind: 'zoo', arch, classes: 10, inputShape: [64, 64, 3], seed: 0 });

describe('zoo models without torch', () => {
  it('uses torchvision names', () => {
    const keys = Object.keys(build('resnet18').stateDict());
    for (const k of [
      'conv1.weight',
      'bn1.running_mean',
      'layer1.0.conv1.weight',
      'layer2.0.downsample.0.weight',
      'layer2.0.downsample.1.running_var',
      'fc.weight',
      'fc.bias',
    ])
      expect(keys).toContain(k);
    const g = Object.keys(build('googlenet').stateDict());
    for (const k of [
      'conv1.conv.weight',
      'conv3.bn.bias',
      'inception3a.branch2.1.conv.weight',
      'inception5b.branch4.1.bn.running_var',
    ])
      expect(g).toContain(k);
  });
  it('lists stages by torchvision name and refuses unknown ones', () => {
    const m = build('resnet50');
    expect(m.stages().map((s) => s.name)).toEqual([
      'conv1',
      'maxpool',
      'layer1',
      'layer2',
      'layer3',
      'layer4',
      'avgpool',
      'fc',
    ]);
    expect(m.features).toBe(2048);
    expect(() => m.stageIndex('layer5')).toThrow(/no stage 'layer5'/);
    const g = build('googlenet')
      .stages()
      .map((s) => s.name);
    expect(g).toContain('maxpool4');
    // torchvision's GoogLeNet: avgpool, dropout (p=0.2), fc; the ResNets have no dropout.
    expect(g.slice(-4)).toEqual(['inception5b', 'avgpool', 'dropout', 'fc']);
  });
  it('replaces the head and checks options', () => {
    const m = build('resnet18');
    m.replaceHead(3);
    expect(m.stateDict()['fc.weight'].shape).toEqual([512, 3]);
    expect(m.config.classes).toBe(3);
    expect(Object.keys(m.stateDict()).at(-1)).toBe('fc.bias');
    expect(() => zoo.resnet18({ classes: 0 })).toThrow(ArgumentError);
    // A misspelt option is refused, not silently replaced by its default.
    expect(() => zoo.resnet50({ classes: 10, sed: 3 } as never)).toThrow(/resnet50: unknown option 'sed'/);
    // GoogLeNet's dropout rate is torchvision's argument (default 0.2), kept in the config; the ResNets have none.
    expect(zoo.googlenet({ classes: 2 }).config.dropout).toBe(0.2);
    expect(zoo.buildZoo(zoo.googlenet({ classes: 2, dropout: 0 }).config).config.dropout).toBe(0);
    expect(() => zoo.googlenet({ classes: 2, dropout: 1 })).toThrow(
      /googlenet: argument 'dropout' must be a rate in \[0, 1\)/,
    );
    expect(() => zoo.resnet18({ classes: 2, dropout: 0.2 })).toThrow(/resnet18: unknown option 'dropout'/);
    expect('dropout' in zoo.resnet18({ classes: 2 }).config).toBe(false);
    expect(() =>
      zoo.googlenet({ classes: 2, inputShape: [32, 32] as unknown as [number, number, number] }),
    ).toThrow(/inputShape/);
    expect(() =>
      zoo.buildZoo({ kind: 'zoo', arch: 'vgg16' as zoo.ZooArch, classes: 2, inputShape: [8, 8, 3], seed: 0 }),
    ).toThrow(/unknown architecture 'vgg16'/);
  });
});

describe.skipIf(torchMissing)("state-dict keys equal torchvision's", () => {
  const dir = torchMissing ? '' : torchFixtures('keys');
  const torchKeys = torchMissing
    ? {}
    : (JSON.parse(readFileSync(join(dir, 'keys.json'), 'utf8')) as Record<string, Record<string, number[]>>);
  for (const arch of zoo.ZOO_ARCHS) {
    it(arch, () => {
      const ours = build(arch).stateDict();
      const theirs = Object.entries(torchKeys[arch]).filter(([k]) => !k.endsWith('num_batches_tracked'));
      // Same names in the same order, and shapes that agree after the layout change.
      expect(Object.keys(ours)).toEqual(theirs.map(([k]) => k));
      for (const [k, shape] of theirs) expect(ours[k].shape, k).toEqual(webgradShape(shape));
    });
  }
});
