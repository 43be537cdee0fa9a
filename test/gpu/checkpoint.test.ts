// Checkpoints end to end: parameters and optimizer state to safetensors bytes and back, resuming exactly.
import { expect, it } from 'vitest';
import { SGD, add, mul, sum, tensor, tidy, type Tensor } from '../../src/index.js';
import {
  decodeSafetensors,
  encodeSafetensors,
  entriesToTensors,
  tensorsToEntries,
} from '../../src/io/index.js';
import { seeded, useGpu } from '../helpers.js';

useGpu();

function stepOnce(params: Tensor[], opt: SGD): void {
  tidy(() => sum(add(mul(params[0], params[0]), params[1])).backward());
  opt.step();
  opt.zeroGrad();
}

it('a checkpoint of parameters and SGD momentum resumes to the same values', async () => {
  const params = [
    tensor(seeded(6, 1), [2, 3], { requiresGrad: true }),
    tensor(seeded(6, 2), [2, 3], { requiresGrad: true }),
  ];
  const opt = new SGD(params, { lr: 0.1, momentum: 0.9 });
  stepOnce(params, opt);
  const bytes = encodeSafetensors(
    {
      ...(await tensorsToEntries({ w: params[0], b: params[1] })),
      ...(await tensorsToEntries(
        Object.fromEntries(Object.entries(opt.stateDict()).map(([k, t]) => [`optim.${k}`, t])),
      )),
    },
    { step: '1' },
  );
  const { tensors, metadata } = decodeSafetensors(bytes);
  expect(metadata.step).toBe('1');
  expect(tensors['optim.0.step']).toEqual({ dtype: 'I32', shape: [], data: Int32Array.from([1]) });
  const loaded = entriesToTensors(tensors, { requiresGrad: true });
  const resumed = [loaded.w, loaded.b];
  const opt2 = new SGD(resumed, { lr: 0.1, momentum: 0.9 });
  const state: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(loaded)) if (k.startsWith('optim.')) state[k.slice(6)] = t;
  await opt2.loadStateDict(state);
  stepOnce(params, opt);
  stepOnce(resumed, opt2);
  for (let i = 0; i < 2; i++) expect(await resumed[i].data()).toEqual(await params[i].data());
});
