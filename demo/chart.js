// A small line chart on a canvas: training loss (left axis) and accuracy (right axis, 0 to 1) per batch.

const COLORS = { loss: '#1f77b4', accuracy: '#ff7f0e' };
const MARGIN = { left: 44, right: 44, top: 14, bottom: 26 };

/** Redraws the whole chart from the series so far: `losses` and `accuracies` hold one value per batch. */
export function drawChart(canvas, losses, accuracies) {
  const ctx = canvas.getContext('2d');
  const { width, height } = canvas;
  const w = width - MARGIN.left - MARGIN.right;
  const h = height - MARGIN.top - MARGIN.bottom;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, width, height);
  ctx.strokeStyle = '#bbb';
  ctx.strokeRect(MARGIN.left, MARGIN.top, w, h);
  const maxLoss = Math.max(0.1, ...losses.filter(Number.isFinite));
  const n = Math.max(2, losses.length);
  const x = (i) => MARGIN.left + (w * i) / (n - 1);
  const line = (values, top, color) => {
    ctx.strokeStyle = color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    values.forEach((v, i) => {
      const y = MARGIN.top + h * (1 - Math.min(v, top) / top);
      if (i === 0) ctx.moveTo(x(i), y);
      else ctx.lineTo(x(i), y);
    });
    ctx.stroke();
  };
  line(losses, maxLoss, COLORS.loss);
  line(accuracies, 1, COLORS.accuracy);
  ctx.fillStyle = '#222';
  ctx.font = '11px sans-serif';
  ctx.fillText(maxLoss.toFixed(2), 4, MARGIN.top + 8);
  ctx.fillText('0', 4, MARGIN.top + h);
  ctx.fillText('100%', width - MARGIN.right + 6, MARGIN.top + 8);
  ctx.fillText('0%', width - MARGIN.right + 6, MARGIN.top + h);
  ctx.fillText(`batch ${losses.length}`, MARGIN.left + w - 60, height - 8);
  ctx.fillStyle = COLORS.loss;
  ctx.fillText('loss', MARGIN.left + 4, height - 8);
  ctx.fillStyle = COLORS.accuracy;
  ctx.fillText('accuracy', MARGIN.left + 44, height - 8);
}
