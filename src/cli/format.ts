// Number formatting shared by the CLI's commands.

/** 0.9901 → `99.01%`. */
export function percent(v: number): string {
  return `${(100 * v).toFixed(2)}%`;
}
