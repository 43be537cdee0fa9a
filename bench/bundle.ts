// Bundles a benchmark entry with vite: tfjs's ES modules plus the gradients tf.grad needs, as one ES module file.
// Usage: tsx bench/bundle.ts ENTRY OUTFILE [--browser]
//
// Why a bundle: tfjs-core's Node entry (CommonJS) registers no gradients, and its ES modules, which can
// (register_all_gradients.js), use directory imports that Node cannot load. A bundler resolves them, and
// the result runs on a bare machine with just `node` (bench/pack-gpu.sh) or in a browser page.
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Writes `outFile` (an ES module, no code splitting) from `entry`. For Node, `webgpu` (Dawn's native addon)
 * stays an import resolved at run time; for the browser nothing stays outside except what the page loads
 * by URL itself (webgrad's dist/).
 */
export async function bundle(entry: string, outFile: string, target: 'node' | 'browser'): Promise<void> {
  await build({
    configFile: false,
    root,
    logLevel: 'warn',
    build: {
      ssr: target === 'node' ? resolve(root, entry) : undefined,
      lib: target === 'browser' ? { entry: resolve(root, entry), formats: ['es'] } : undefined,
      outDir: dirname(resolve(outFile)),
      emptyOutDir: false,
      minify: false,
      target: target === 'node' ? 'node20' : 'es2022',
      rollupOptions: { output: { entryFileNames: basename(outFile), codeSplitting: false } },
    },
    ssr: target === 'node' ? { noExternal: true, external: ['webgpu'] } : undefined,
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [entry, outFile, flag] = process.argv.slice(2);
  if (!entry || !outFile) throw new Error('usage: tsx bench/bundle.ts ENTRY OUTFILE [--browser]');
  await bundle(entry, outFile, flag === '--browser' ? 'browser' : 'node');
}
