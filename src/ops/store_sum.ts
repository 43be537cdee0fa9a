// A gradient sum at fan-in and the ReLU mask after it, run in the store of the kernel computing one of its terms.
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import type { Dispatch } from '../gpu/runtime.js';
import type { RefTensor, TensorSpec } from './types.js';

/**
 * The sum a kernel adds its value into, as the add nodes built it: 'acc' is the kernel's own value, a number the
 * n-th extra term, a pair one add of its two operands (in that order, so the f32 result matches the unfused adds).
 */
export type SumTree = 'acc' | number | readonly [SumTree, SumTree];

/** Attributes of an op that stores through a sum (set by the 'epilogue' pass's store-sum step, never by users). */
export interface StoreSumAttrs {
  /**
   * Output 0 is stored as `tree` evaluated over the kernel's value and the terms, which are inputs after the op's
   * own (in order), then, when `mask`, masked by relu's output y (the last input): `v where y > 0, else 0`.
   */
  storeSum?: { tree: SumTree; terms: number; mask: boolean };
}

/** The element type of the stored values. */
export type StoreType = 'f32' | 'vec4f';

/** ArgumentError unless `tree` uses 'acc' once and each of the `terms` terms once. */
function checkTree(op: string, tree: SumTree, terms: number): void {
  const seen: (number | 'acc')[] = [];
  const walk = (t: SumTree): void => {
    if (Array.isArray(t) && t.length === 2) {
      walk(t[0] as SumTree);
      walk(t[1] as SumTree);
    } else if (t === 'acc' || (Number.isInteger(t) && (t as number) >= 0 && (t as number) < terms)) {
      seen.push(t as number | 'acc');
    } else throw new ArgumentError(`${op}: bad node ${JSON.stringify(t)} in the store sum`);
  };
  walk(tree);
  const once = (v: number | 'acc') => seen.filter((s) => s === v).length === 1;
  if (seen.length !== terms + 1 || !once('acc') || !Array.from({ length: terms }, (_, i) => i).every(once)) {
    throw new ArgumentError(
      `${op}: the store sum must use the kernel's value and each of its ${terms} terms once, got ${JSON.stringify(tree)}`,
    );
  }
}

/**
 * The STORE region of a kernel whose file defines `fn store_<out>(j: u32, acc: T)` as the plain store: binds the
 * terms (`sumTerm0`, ...) and, with a mask, relu's output (`storeY`) from `binding` on, and stores the sum, masked.
 */
export function storeSumRegion(
  type: StoreType,
  binding: number,
  out: string,
  store: NonNullable<StoreSumAttrs['storeSum']>,
): Record<string, string> {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(out))
    throw new ArgumentError(`storeSumRegion: bad output name '${out}'`);
  checkTree('storeSumRegion', store.tree, store.terms);
  const decl = (k: number, name: string) =>
    `@group(0) @binding(${binding + k}) var<storage, read> ${name}: array<${type}>;`;
  const lines = Array.from({ length: store.terms }, (_, k) => decl(k, `sumTerm${k}`));
  if (store.mask) lines.push(decl(store.terms, 'storeY'));
  const expr = (t: SumTree): string =>
    t === 'acc' ? 'acc' : typeof t === 'number' ? `sumTerm${t}[j]` : `(${expr(t[0])} + ${expr(t[1])})`;
  const value = store.mask
    ? `select(${type}(0.0), ${expr(store.tree)}, storeY[j] > ${type}(0.0))`
    : expr(store.tree);
  lines.push('', `fn store_${out}(j: u32, acc: ${type}) {`, `  ${out}[j] = ${value};`, '}');
  return { STORE: lines.join('\n') };
}

/** `d` storing through `store` with its terms and mask buffers bound after d's own; `d` itself without one. */
export function withStoreSum(
  d: Dispatch,
  type: StoreType,
  out: string,
  store: StoreSumAttrs['storeSum'],
  buffers: readonly GPUBuffer[],
): Dispatch {
  if (!store) return d;
  const regions = { ...d.regions, ...storeSumRegion(type, d.buffers.length + 1, out, store) };
  return { ...d, regions, buffers: [...d.buffers, ...buffers] };
}

/** How many inputs the store sum adds after the op's own (its terms, then the mask y). */
export function storeInputs(attrs: StoreSumAttrs): number {
  const s = attrs.storeSum;
  return s ? s.terms + (s.mask ? 1 : 0) : 0;
}

/**
 * Checks the store-sum inputs, the last `storeInputs(attrs)` of `inputs`: float32 of the output's shape. Returns
 * the inputs before them.
 */
export function checkStoreInputs(
  op: string,
  inputs: readonly TensorSpec[],
  attrs: StoreSumAttrs,
  output: readonly number[],
): readonly TensorSpec[] {
  const s = attrs.storeSum;
  if (!s) return inputs;
  if (!Number.isInteger(s.terms) || s.terms < 0 || typeof s.mask !== 'boolean') {
    throw new ShapeError(`${op}: attribute 'storeSum' needs an integer 'terms' >= 0 and a boolean 'mask'`);
  }
  checkTree(op, s.tree, s.terms);
  const extra = storeInputs(attrs);
  if (inputs.length < extra)
    throw new ShapeError(`${op}: expected ${extra} store-sum inputs, got ${inputs.length}`);
  for (const t of inputs.slice(inputs.length - extra)) {
    if (t.dtype !== 'float32' || t.shape.length !== output.length || t.shape.some((v, i) => v !== output[i]))
      throw new ShapeError(
        `${op}: a store-sum input ${fmtShape(t.shape)} must be float32 of the output's shape ${fmtShape(output)}`,
      );
  }
  return inputs.slice(0, inputs.length - extra);
}

/** The float64 reference of the stored value: the kernel's own output `out` summed with the terms, then masked. */
export function refStoreSum(out: RefTensor, extra: readonly RefTensor[], attrs: StoreSumAttrs): RefTensor {
  const s = attrs.storeSum;
  if (!s) return out;
  const y = s.mask ? extra[s.terms].data : null;
  const at = (t: SumTree, i: number): number =>
    t === 'acc' ? out.data[i] : typeof t === 'number' ? extra[t].data[i] : at(t[0], i) + at(t[1], i);
  const data = out.data.map((_, i) => (y && !(y[i] > 0) ? 0 : at(s.tree, i)));
  return { shape: out.shape, data };
}
