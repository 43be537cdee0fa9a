// The register tile of depthwise_fwd: generates its TILE region, `accumulateRow` unrolled for a fixed kernel
// width, stride and dilation along W and TW outputs per invocation, and picks the tile for a conv's geometry.
import { ArgumentError } from '../errors.js';
import type { ConvDims } from './conv_geometry.js';

/** The tile of one depthwise_fwd dispatch: TW outputs along OW; `unrolled` false is the shader's KW loop. */
export interface DepthwiseTile {
  tw: number;
  unrolled: boolean;
}

/** Widest kernel the unrolled tile is generated for (its input span grows with KW); wider kernels loop. */
export const MAX_UNROLLED_KW = 7;
/** Outputs per invocation along OW of the unrolled tile. */
export const TILE_W = 4;

/** The tile for `d`: four outputs along OW, unrolled, for kernels up to MAX_UNROLLED_KW wide; else the loop. */
export function depthwiseTile(d: ConvDims): DepthwiseTile {
  if (d.kw > MAX_UNROLLED_KW) return { tw: 1, unrolled: false };
  return { tw: Math.min(TILE_W, d.ow), unrolled: true };
}

/**
 * The TILE region for `tile` (none for the loop, whose text is the shader's default). Each input column the TW
 * windows touch is loaded once (column j = t*SW + kw*DW for output t, tap kw), each tap's filter value once.
 */
export function depthwiseTileRegion(d: ConvDims, tile: DepthwiseTile): Record<string, string> {
  if (!tile.unrolled) {
    if (tile.tw !== 1)
      throw new ArgumentError(`depthwise_fwd: the KW loop computes 1 output, not ${tile.tw}`);
    return {};
  }
  const { tw } = tile;
  if (!Number.isInteger(tw) || tw < 1 || tw > 8 || d.kw > MAX_UNROLLED_KW)
    throw new ArgumentError(
      `depthwise_fwd: an unrolled tile needs 1..8 outputs and KW <= ${MAX_UNROLLED_KW}, got ${tw} and ${d.kw}`,
    );
  const lines = [
    `const TW = ${tw}u;`,
    '',
    `// Generated for KW = ${d.kw}, SW = ${d.sw}, DW = ${d.dw}, TW = ${tw}.`,
    'fn accumulateRow(acc: ptr<function, array<V, TW>>, row: u32, iw0: i32, ci: u32, wk: u32, co: u32) {',
  ];
  for (let kw = 0; kw < d.kw; kw++) lines.push(`  let w${kw} = wt[(wk + ${kw}u) * p.cvOut + co];`);
  const columns = new Set<number>();
  for (let t = 0; t < tw; t++) for (let kw = 0; kw < d.kw; kw++) columns.add(t * d.sw + kw * d.dw);
  for (const j of [...columns].sort((a, b) => a - b)) lines.push(`  let x${j} = load(row, iw0 + ${j}, ci);`);
  for (let t = 0; t < tw; t++) {
    const terms = Array.from({ length: d.kw }, (_, kw) => `x${t * d.sw + kw * d.dw} * w${kw}`);
    lines.push(`  (*acc)[${t}] += ${terms.join(' + ')};`);
  }
  lines.push('}');
  return { TILE: lines.join('\n') };
}
