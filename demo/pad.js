// The drawing pad: white strokes on black, read back as a 28x28 MNIST-like image (values in [0, 1]).

const SIDE = 28;

/** Lets the pointer draw on `canvas`; returns `clear()` and `pixels()` (784 values, row-major). */
export function drawingPad(canvas) {
  const ctx = canvas.getContext('2d');
  const clear = () => {
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
  };
  clear();
  let last = null;
  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [
      ((e.clientX - r.left) * canvas.width) / r.width,
      ((e.clientY - r.top) * canvas.height) / r.height,
    ];
  };
  canvas.addEventListener('pointerdown', (e) => {
    last = at(e);
    canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!last) return;
    const next = at(e);
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = canvas.width / 12;
    ctx.lineCap = 'round';
    ctx.beginPath();
    ctx.moveTo(...last);
    ctx.lineTo(...next);
    ctx.stroke();
    last = next;
  });
  canvas.addEventListener('pointerup', () => (last = null));
  // MNIST digits are centered by their center of mass in a 28x28 box, about 20 pixels tall: averaging blocks of
  // the pad and shifting the mass to the middle is close enough for a demo.
  const pixels = () => {
    const { width } = canvas;
    const rgba = ctx.getImageData(0, 0, width, canvas.height).data;
    const block = width / SIDE;
    const out = new Float32Array(SIDE * SIDE);
    for (let y = 0; y < SIDE; y++) {
      for (let x = 0; x < SIDE; x++) {
        let s = 0;
        for (let dy = 0; dy < block; dy++) {
          for (let dx = 0; dx < block; dx++) s += rgba[((y * block + dy) * width + x * block + dx) * 4];
        }
        out[y * SIDE + x] = s / (block * block * 255);
      }
    }
    return centered(out);
  };
  return { clear, pixels };
}

function centered(img) {
  let mass = 0;
  let cx = 0;
  let cy = 0;
  for (let i = 0; i < img.length; i++) {
    mass += img[i];
    cx += (i % SIDE) * img[i];
    cy += Math.floor(i / SIDE) * img[i];
  }
  if (mass === 0) return img;
  const sx = Math.round(SIDE / 2 - 0.5 - cx / mass);
  const sy = Math.round(SIDE / 2 - 0.5 - cy / mass);
  const out = new Float32Array(img.length);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const fx = x - sx;
      const fy = y - sy;
      if (fx >= 0 && fx < SIDE && fy >= 0 && fy < SIDE) out[y * SIDE + x] = img[fy * SIDE + fx];
    }
  }
  return out;
}
