// Shader text lookup and the one checked helper for text substitution (dtype or a fused epilogue).
import { ArgumentError } from '../errors.js';
import { shaderSources, type ShaderName } from './shaderSources.generated.js';

export type { ShaderName };
export { shaderSources };

/**
 * Returns the WGSL of `name`, with marked regions replaced. A region is written in the .wgsl file as
 * `// @region KEY` ... `// @end KEY` around valid default code, so every file compiles as it is.
 * Every key must name a region of that file, or this throws.
 */
export function shaderCode(name: ShaderName, regions: Record<string, string> = {}): string {
  let code: string = shaderSources[name];
  for (const [key, replacement] of Object.entries(regions)) {
    const begin = `// @region ${key}\n`;
    const end = `// @end ${key}\n`;
    const i = code.indexOf(begin);
    const j = code.indexOf(end, i);
    if (i < 0 || j < 0) throw new ArgumentError(`shaderCode: shader '${name}' has no region '${key}'`);
    code = code.slice(0, i + begin.length) + replacement + '\n' + code.slice(j);
  }
  return code;
}
