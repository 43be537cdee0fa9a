// Predictions with test-time augmentation: every view of a batch in one forward, combined per image.
import type { Tensor } from '../graph/tensor.js';
import type { Module } from '../nn/module.js';
import { ensembleCombine } from '../ops/ensemble_combine.js';
import { reshape } from '../ops/reshape.js';
import { Ensemble } from '../train/ensemble.js';
import { expand, viewCount, type TestTimeAugmentation } from './views.js';

/**
 * The model's predictions for a batch, and for an ensemble each member's too. With `tta`, each model runs once
 * on all views of the batch (one larger batch) and its views are combined per image by `tta.combine`; an
 * ensemble then combines its members' results by its own rule (views first, then members). Records only.
 * Shapes: x [N,H,W,C] → combined [N,K]; members M × [N,K] (null for a single model).
 */
export function predictMembers(
  model: Module,
  x: Tensor,
  tta: TestTimeAugmentation | null = null,
): { combined: Tensor; members: Tensor[] | null } {
  const input = tta ? expand(x, tta) : x;
  const views = tta ? viewCount(tta) : 1;
  const one = (m: Module): Tensor => {
    const z = m.forward(input);
    if (views === 1) return z;
    return ensembleCombine(reshape(z, [views, x.shape[0], z.shape[z.rank - 1]]), tta!.combine);
  };
  if (!(model instanceof Ensemble)) return { combined: one(model), members: null };
  const members = model.members.map(one);
  return { combined: model.combinePredictions(members), members };
}

/**
 * predictMembers' combined scores: logits for a single model without tta, else log-probabilities (mean-prob)
 * or the rule's scores; argmax is the prediction either way. Shapes: x [N,H,W,C] → [N,K].
 */
export function predict(model: Module, x: Tensor, tta: TestTimeAugmentation | null = null): Tensor {
  return predictMembers(model, x, tta).combined;
}
