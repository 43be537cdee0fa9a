// Draws the training history (loss and accuracy per epoch) as a self-contained SVG line chart.

export interface PlotSeries {
  name: string;
  values: number[];
  color: string;
}

const WIDTH = 640;
const HEIGHT = 260;
const MARGIN = { left: 52, right: 16, top: 28, bottom: 34 };

function escapeXml(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}

/** One panel: series over epochs 1..n, y from the data's range (with `yMin`/`yMax` overrides). */
function panel(
  title: string,
  series: PlotSeries[],
  y0: number,
  bounds: { yMin?: number; yMax?: number },
): string {
  const all = series.flatMap((s) => s.values).filter(Number.isFinite);
  const n = Math.max(1, ...series.map((s) => s.values.length));
  let lo = bounds.yMin ?? Math.min(...all);
  let hi = bounds.yMax ?? Math.max(...all);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = [0, 1];
  if (hi - lo < 1e-9) [lo, hi] = [lo - 0.5, hi + 0.5];
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (i: number) => MARGIN.left + (n === 1 ? plotW / 2 : (i / (n - 1)) * plotW);
  const y = (v: number) => y0 + MARGIN.top + (1 - (v - lo) / (hi - lo)) * plotH;
  const parts: string[] = [];
  parts.push(
    `<text x="${MARGIN.left}" y="${y0 + 18}" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
  );
  parts.push(
    `<rect x="${MARGIN.left}" y="${y0 + MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`,
  );
  for (let k = 0; k <= 4; k++) {
    const v = lo + ((hi - lo) * k) / 4;
    parts.push(
      `<text x="${MARGIN.left - 6}" y="${y(v) + 4}" font-size="10" text-anchor="end">${v.toPrecision(3)}</text>`,
      `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`,
    );
  }
  for (let i = 0; i < n; i++) {
    parts.push(
      `<text x="${x(i)}" y="${y0 + HEIGHT - 14}" font-size="10" text-anchor="middle">${i + 1}</text>`,
    );
  }
  series.forEach((s, k) => {
    const pts = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${pts}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    for (const [i, v] of s.values.entries()) {
      parts.push(`<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${s.color}"/>`);
    }
    parts.push(
      `<text x="${WIDTH - MARGIN.right - 150}" y="${y0 + 18 + 14 * k}" font-size="11" fill="${s.color}">${escapeXml(s.name)}</text>`,
    );
  });
  return parts.join('\n');
}

/** An SVG with a loss panel and an accuracy panel, epochs on the x axis. */
export function historySvg(loss: PlotSeries[], accuracy: PlotSeries[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${2 * HEIGHT}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    panel('Loss per epoch', loss, 0, {}),
    panel('Accuracy per epoch', accuracy, HEIGHT, { yMax: 1 }),
    `<text x="${WIDTH / 2}" y="${2 * HEIGHT - 2}" font-size="11" text-anchor="middle">epoch</text>`,
    '</svg>',
    '',
  ].join('\n');
}
