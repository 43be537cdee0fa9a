// The demo page in headless Chromium (WebGPU on SwiftShader): it trains, the chart updates, a drawn digit gets a
// prediction, Node-only helpers refuse with PlatformError, and a screenshot is written.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_FLAGS, CHROMIUM_PATH } from '../../bench/chromium.js';
// @ts-expect-error: a plain ES module without types (the demo has no build step).
import { serveDemo } from '../../demo/serve.mjs';

const root = resolve(__dirname, '..', '..');
const SCREENSHOT = join(root, 'node_modules', '.cache', 'webgrad-demo', 'demo.png');

interface DemoState {
  state: string;
  error: string | null;
  adapter: { description: string } | null;
  losses: number[];
  accuracies: number[];
  test: { accuracy: number; loss: number; images: number } | null;
  prediction: { digit: number; probabilities: number[] } | null;
}

let server: Server;
let profile = '';
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];

const state = () => page.evaluate(() => (window as unknown as { demo: DemoState }).demo);
/** Counts the chart's pixels that are neither white background nor the grey frame. */
const inkedPixels = () =>
  page.evaluate(() => {
    const canvas = document.getElementById('chart') as HTMLCanvasElement;
    const d = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - d[i + 2]) > 60) n++;
    return n;
  });

beforeAll(async () => {
  if (!existsSync(join(root, 'dist', 'index.js'))) {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  }
  server = await serveDemo(0);
  profile = mkdtempSync(join(tmpdir(), 'webgrad-demo-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1000, height: 720 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (e) => pageErrors.push(e.message));
});

afterAll(async () => {
  await context?.close();
  server?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

describe('the demo page', () => {
  it('trains a ResNet on MNIST in the page, charting every batch, and evaluates it', async () => {
    const { port } = server.address() as AddressInfo;
    await page.goto(`http://127.0.0.1:${port}/?images=96&epochs=1&batch=16&test=64`);
    await page.waitForFunction(() => (window as unknown as { demo: DemoState }).demo.state !== 'starting');
    expect((await state()).error).toBeNull();
    expect((await state()).adapter?.description).toBeTruthy();
    const blank = await inkedPixels();
    await page.click('#train');
    // The chart is drawn while training runs, not only at the end.
    await page.waitForFunction(
      () => (window as unknown as { demo: DemoState }).demo.losses.length >= 2,
      null,
      {
        timeout: 120_000,
      },
    );
    const during = await inkedPixels();
    expect(during).toBeGreaterThan(blank);
    await page.waitForFunction(
      () => (window as unknown as { demo: DemoState }).demo.state !== 'training',
      null,
      {
        timeout: 240_000,
      },
    );
    const s = await state();
    expect(s.error).toBeNull();
    expect(s.state).toBe('trained');
    expect(s.losses.length).toBe(6); // 96 images in batches of 16
    expect(s.losses.every(Number.isFinite)).toBe(true);
    expect(s.accuracies.every((a) => a >= 0 && a <= 1)).toBe(true);
    expect(s.test?.images).toBe(64);
    expect(s.test!.accuracy).toBeGreaterThanOrEqual(0);
    expect(await page.textContent('#result')).toMatch(/^test accuracy \d+\.\d\d% on 64 images/);
    expect(await inkedPixels()).toBeGreaterThan(blank);
  });

  it('predicts a digit drawn on the pad, with probabilities that sum to 1', async () => {
    const box = (await page.locator('#pad').boundingBox())!;
    // A vertical stroke: a "1".
    await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.2);
    await page.mouse.down();
    for (let k = 1; k <= 10; k++)
      await page.mouse.move(box.x + box.width / 2, box.y + box.height * (0.2 + 0.06 * k));
    await page.mouse.up();
    await page.click('#predict');
    await page.waitForFunction(() => {
      const { demo } = window as unknown as { demo: DemoState };
      return demo.prediction !== null || demo.error !== null;
    });
    const { prediction, error } = await state();
    expect(error).toBeNull();
    expect(prediction!.probabilities.length).toBe(10);
    expect(prediction!.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    expect(prediction!.digit).toBe(prediction!.probabilities.indexOf(Math.max(...prediction!.probabilities)));
    expect(await page.textContent('#prediction')).toMatch(/^prediction: \d \(\d+\.\d%\)$/);
    mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(10_000);
  });

  it('Node-only helpers throw PlatformError in the browser', async () => {
    const seen = await page.evaluate(async () => {
      const { wg } = (window as unknown as { demo: { wg: typeof import('../../src/index.js') } }).demo;
      const model = wg.resnet({ widths: [2], blocks: [1], classes: 2 });
      const calls: [string, () => Promise<unknown>][] = [
        ['loadMnist', () => wg.data.loadMnist({ split: 'test' })],
        ['loadImageFolder', () => wg.data.loadImageFolder('x', { size: [28, 28], channels: 1 })],
        ['saveCheckpoint', () => wg.saveCheckpoint('m.safetensors', model)],
      ];
      const out: string[] = [];
      for (const [, call] of calls) {
        try {
          await call();
          out.push('no error');
        } catch (e) {
          out.push(`${(e as Error).name}: ${(e as Error).message.split(' (')[0]}`);
        }
      }
      model.dispose();
      return out;
    });
    expect(seen).toEqual([
      'PlatformError: loadMnist: works in Node.js only',
      'PlatformError: loadImageFolder: works in Node.js only',
      'PlatformError: saveCheckpoint: works in Node.js only',
    ]);
    expect(pageErrors).toEqual([]);
  });
});
