// Shader text lookup and the one checked helper for text substitution (dtype or a fused epilogue).
import { ArgumentError } from '../errors.js';
import { shaderSources, type ShaderName } from './shaderSources.generated.js';

export type { ShaderName };
export { shaderSources };

/**
 * Returns the WGSL of `name`, with marked regions replaced (see `substituteRegions`).
 */
export function shaderCode(name: ShaderName, regions: Record<string, string> = {}): string {
  return substituteRegions(shaderSources[name], regions, `shader '${name}'`);
}

/**
 * Replaces marked regions of `code`. A region is written as `// @region KEY` ... `// @end KEY` around valid
 * default code, so every file compiles as it is. Every key must name a region of the code, or this throws
 * (naming `owner`).
 */
export function substituteRegions(code: string, regions: Record<string, string>, owner: string): string {
  for (const [key, replacement] of Object.entries(regions)) {
    const begin = `// @region ${key}\n`;
    const end = `// @end ${key}\n`;
    const i = code.indexOf(begin);
    const j = code.indexOf(end, i);
    if (i < 0 || j < 0) throw new ArgumentError(`shaderCode: ${owner} has no region '${key}'`);
    code = code.slice(0, i + begin.length) + replacement + '\n' + code.slice(j);
  }
  return code;
}
