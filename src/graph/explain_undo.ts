// While wg.explain(fn) records: the host state fn changes (leaf gradients, optimizer and layer counters) is put back.

let log: (() => void)[] | null = null;

/**
 * While explain() records, registers `restore` (run when it ends, last registered first) and returns true; otherwise
 * returns false and the caller changes its state for real. A caller that gets true must not dispose what it
 * replaces: the restore puts it back.
 */
export function onExplainEnd(restore: () => void): boolean {
  if (!log) return false;
  log.push(restore);
  return true;
}

/** Whether explain() is recording now (for callers whose restore needs a snapshot taken first). */
export function explainingNow(): boolean {
  return log !== null;
}

/** Starts the undo log of one explain() call. */
export function beginExplainUndo(): void {
  log = [];
}

/** Ends it: runs every restore, newest first, so each value goes back to what it was before fn ran. */
export function endExplainUndo(): void {
  const entries = log ?? [];
  log = null;
  for (let i = entries.length - 1; i >= 0; i--) entries[i]();
}
