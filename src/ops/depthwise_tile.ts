// The register tile of depthwise_fwd: generates its TILE region, `accumulate` unrolled for a fixed kernel,
// stride and dilation over TH x TW outputs per invocation, and picks the tile for a conv's geometry.
import { ArgumentError } from '../errors.js';
import type { ConvDims } from './conv_geometry.js';

/** The tile of one depthwise_fwd dispatch: TH x TW outputs; `unrolled` false is the shader's KH x KW loop. */
export interface DepthwiseTile {
  th: number;
  tw: number;
  unrolled: boolean;
}

/** Largest kernel side the unrolled tile is generated for (its input span grows with it); larger ones loop. */
export const MAX_UNROLLED_K = 7;
/** At most this many outputs per invocation (the accumulators stay few). */
const MAX_OUTPUTS = 16;

/**
 * The tile for `d`: 2 rows x 4 columns of outputs for kernels up to 3 tall (neighbouring rows share input rows
 * and every filter tap), 1 x 4 up to MAX_UNROLLED_K, the loop beyond; never larger than the output.
 */
export function depthwiseTile(d: ConvDims): DepthwiseTile {
  if (d.kh > MAX_UNROLLED_K || d.kw > MAX_UNROLLED_K) return { th: 1, tw: 1, unrolled: false };
  return { th: Math.min(d.kh <= 3 ? 2 : 1, d.oh), tw: Math.min(4, d.ow), unrolled: true };
}

/**
 * The TILE region for `tile` (none for the loop, whose text is the shader's default). Output (r, c) of the tile
 * reads input row r*SH + kh*DH and column c*SW + kw*DW of the tile's first window; each such row, column and
 * filter tap is loaded once, row by row, and added into every output that uses it.
 */
export function depthwiseTileRegion(d: ConvDims, tile: DepthwiseTile): Record<string, string> {
  const { th, tw } = tile;
  if (!tile.unrolled) {
    if (th !== 1 || tw !== 1)
      throw new ArgumentError(`depthwise_fwd: the KH x KW loop computes 1 output, not ${th} x ${tw}`);
    return {};
  }
  const sizes = [th, tw].every((v) => Number.isInteger(v) && v >= 1) && th * tw <= MAX_OUTPUTS;
  if (!sizes || d.kh > MAX_UNROLLED_K || d.kw > MAX_UNROLLED_K)
    throw new ArgumentError(
      `depthwise_fwd: an unrolled tile needs at most ${MAX_OUTPUTS} outputs and a kernel up to ` +
        `${MAX_UNROLLED_K}x${MAX_UNROLLED_K}, got ${th} x ${tw} outputs and ${d.kh}x${d.kw}`,
    );
  const lines = [
    `const TH = ${th}u;`,
    `const TW = ${tw}u;`,
    '',
    `// Generated for a ${d.kh}x${d.kw} kernel, stride ${d.sh}x${d.sw}, dilation ${d.dh}x${d.dw}, ${th} x ${tw} outputs.`,
    'fn accumulate(acc: ptr<function, array<V, TH * TW>>, nb: u32, ih0: i32, iw0: i32, ci: u32, co: u32) {',
  ];
  for (let kh = 0; kh < d.kh; kh++)
    for (let kw = 0; kw < d.kw; kw++)
      lines.push(`  let w${kh}_${kw} = wt[${kh * d.kw + kw}u * p.cvOut + co];`);
  const rows = new Map<number, [number, number][]>();
  for (let r = 0; r < th; r++)
    for (let kh = 0; kh < d.kh; kh++) {
      const ir = r * d.sh + kh * d.dh;
      rows.set(ir, [...(rows.get(ir) ?? []), [r, kh]]);
    }
  const columns = new Set<number>();
  for (let c = 0; c < tw; c++) for (let kw = 0; kw < d.kw; kw++) columns.add(c * d.sw + kw * d.dw);
  const sortedColumns = [...columns].sort((a, b) => a - b);
  for (const ir of [...rows.keys()].sort((a, b) => a - b)) {
    lines.push('  {', `    let row = rowAt(nb, ih0 + ${ir});`, `    let ok = rowInside(ih0 + ${ir});`);
    for (const j of sortedColumns) lines.push(`    let x${j} = load(row, ok, iw0 + ${j}, ci);`);
    for (const [r, kh] of rows.get(ir)!) {
      for (let c = 0; c < tw; c++) {
        const terms = Array.from({ length: d.kw }, (_, kw) => `x${c * d.sw + kw * d.dw} * w${kh}_${kw}`);
        lines.push(`    (*acc)[${r * tw + c}] += ${terms.join(' + ')};`);
      }
    }
    lines.push('  }');
  }
  lines.push('}');
  return { TILE: lines.join('\n') };
}
