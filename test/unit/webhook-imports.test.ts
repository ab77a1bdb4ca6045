// The webhook process must not load @kubernetes/client-node on start: its
// import alone is about 80 MiB resident and 25 MB of heap (docs/benchmarks.md,
// part 1). This walks the static, value-level imports from the webhook's
// composition root; `import type` is erased and `import()` loads only when a
// kubeconfig needs client-node (exec plugins, auth providers: src/cluster/kube-access.ts).
import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(import.meta.dirname, '..', '..');

/** Every package a module loads at start, transitively through our own modules, with one importing chain each. */
function staticPackages(entry: string): Map<string, string[]> {
  const packages = new Map<string, string[]>();
  const seen = new Set<string>();
  const visit = (file: string, chain: string[]): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
    for (const statement of source.statements) {
      let specifier: ts.Expression | undefined;
      if (ts.isImportDeclaration(statement) && !statement.importClause?.isTypeOnly) specifier = statement.moduleSpecifier;
      if (ts.isExportDeclaration(statement) && !statement.isTypeOnly) specifier = statement.moduleSpecifier;
      if (!specifier || !ts.isStringLiteral(specifier)) continue;
      const name = specifier.text;
      const here = [...chain, file.slice(ROOT.length + 1)];
      if (name.startsWith('.')) {
        const target = join(dirname(file), name.replace(/\.js$/, '.ts'));
        if (existsSync(target)) visit(target, here);
      } else if (!name.startsWith('node:') && !packages.has(name)) {
        packages.set(name, here);
      }
    }
  };
  visit(entry, []);
  return packages;
}

describe('what the webhook process loads', () => {
  it('the webhook command and its scrape worker reach no @kubernetes/client-node import at start', () => {
    const packages = staticPackages(join(ROOT, 'src', 'cli', 'webhook.ts'));
    for (const [name, chain] of staticPackages(join(ROOT, 'src', 'webhook', 'scrape-worker.ts'))) packages.set(name, chain);
    const clientNode = [...packages.entries()].filter(([name]) => name.startsWith('@kubernetes/'));
    expect(clientNode).toEqual([]);
    // The walk itself finds packages: the webhook does load express and pino.
    expect([...packages.keys()]).toEqual(expect.arrayContaining(['express', 'pino']));
  });

  it('the watcher command does reach it (the walk would catch a static import)', () => {
    expect(staticPackages(join(ROOT, 'src', 'cli', 'watcher.ts')).has('@kubernetes/client-node')).toBe(true);
  });
});
