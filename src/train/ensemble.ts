// wg.ensemble: a module whose forward runs every member on the batch and combines their predictions.
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import type { Tensor } from '../graph/tensor.js';
import { Module } from '../nn/module.js';
import { Network } from '../nn/models.js';
import { concat } from '../ops/concat.js';
import { COMBINE_MODES, ensembleCombine, type CombineMode } from '../ops/ensemble_combine.js';
import { reshape } from '../ops/reshape.js';
import { checkOptionKeys } from '../options.js';

export interface EnsembleOptions {
  /** How member predictions are combined (default 'mean-prob'); see `ensembleCombine` for each output. */
  combine?: CombineMode;
}

/**
 * Several classifiers (any architectures, the same classes) as one module. Its forward records every member's
 * forward on the batch, then one combine, and submits nothing, so a read of the result runs all members in one
 * submit. Members are children named `members.<i>`: train()/eval() reach them, stateDict() holds them all.
 * Shapes: x [N, ...] (what every member takes) → [N, K].
 */
export class Ensemble extends Module {
  readonly members: readonly Module[];
  readonly combine: CombineMode;

  constructor(members: readonly Module[], options: EnsembleOptions = {}) {
    super();
    checkOptionKeys('ensemble', options, ['combine']);
    const combine = options.combine ?? 'mean-prob';
    if (!COMBINE_MODES.includes(combine)) {
      throw new ArgumentError(
        `ensemble: 'combine' must be one of ${COMBINE_MODES.join(', ')}, got '${String(combine)}'`,
      );
    }
    if (!Array.isArray(members) || members.length === 0) {
      throw new ArgumentError("ensemble: argument 'models' must be a non-empty array of modules");
    }
    members.forEach((m, i) => {
      if (!(m instanceof Module)) throw new ArgumentError(`ensemble: models[${i}] is not a Module`);
    });
    // Networks say their class count up front; other modules are checked on their first forward.
    const networks = members.flatMap((m, i) => (m instanceof Network ? [[i, m.config.classes]] : []));
    for (const [i, classes] of networks) {
      if (classes !== networks[0][1]) {
        throw new ArgumentError(
          `ensemble: models[${i}] has ${classes} classes, models[${networks[0][0]}] has ${networks[0][1]}: members must predict the same classes`,
        );
      }
    }
    this.members = [...members];
    this.combine = combine;
    this.members.forEach((m, i) => this.child(`members.${i}`, m));
  }

  /** Every member's logits, stacked. Shapes: x [N, ...] → [M, N, K]. */
  memberLogits(x: Tensor): Tensor {
    return this.stack(this.members.map((m) => m.forward(x)));
  }

  /** Stacks per-member predictions after checking they have one shape. Shapes: M × [N, K] → [M, N, K]. */
  stack(predictions: readonly Tensor[]): Tensor {
    const first = predictions[0].shape;
    predictions.forEach((p, i) => {
      if (p.rank !== 2) {
        throw new ShapeError(
          `ensemble: member ${i} predicts ${fmtShape(p.shape)}: members must give [N, K] logits`,
        );
      }
      if (p.shape[0] !== first[0] || p.shape[1] !== first[1]) {
        throw new ShapeError(
          `ensemble: member ${i} predicts ${fmtShape(p.shape)}, member 0 ${fmtShape(first)}: members must predict the same classes`,
        );
      }
    });
    return concat(
      predictions.map((p) => reshape(p, [1, first[0], first[1]])),
      0,
    );
  }

  /** Combines per-member predictions (logits, or log-probabilities) with this ensemble's rule. Shapes: M × [N, K] → [N, K]. */
  combinePredictions(predictions: readonly Tensor[]): Tensor {
    return ensembleCombine(this.stack(predictions), this.combine);
  }

  forward(x: Tensor): Tensor {
    return this.combinePredictions(this.members.map((m) => m.forward(x)));
  }
}

/**
 * An ensemble of `models` (see `Ensemble`): `combine` is 'mean-prob' (default), 'mean-logit' or 'vote'.
 * Shapes: x [N, ...] → [N, K].
 */
export function ensemble(models: readonly Module[], options: EnsembleOptions = {}): Ensemble {
  return new Ensemble(models, options);
}
