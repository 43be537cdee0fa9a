// Headless Chromium settings shared by the browser benchmark and the browser tests: Debian's binary and the flags
// DESIGN.md gives for WebGPU on SwiftShader (plus the ones that keep a fresh profile quiet).
export const CHROMIUM_PATH = '/usr/bin/chromium';
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--enable-unsafe-swiftshader',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
