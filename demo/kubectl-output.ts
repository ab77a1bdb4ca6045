// What kubectl prints, made readable without changing what it says.

/**
 * `kubectl apply` on an existing object that the server refuses prints the
 * whole patch it sent, then the object's coordinates, then the server's
 * reason. Keep kubectl's own lines (warnings, the error line) and the reason;
 * leave out the patch, and say so.
 */
export function trimPatchDump(output: string): string {
  const text = output.trim();
  const lines = text.split('\n');
  const errorLine = lines.findIndex((l) => l.includes('error when applying patch:'));
  const reasonAt = text.indexOf('admission webhook');
  if (errorLine < 0 || reasonAt < 0) return text;
  return [...lines.slice(0, errorLine + 1), '(the patch kubectl sent is left out)', text.slice(reasonAt)].join('\n');
}
