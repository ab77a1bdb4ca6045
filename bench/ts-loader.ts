// Runs the benchmarks' TypeScript straight from the source tree, on the
// project's Node:
//
//   node --import ./bench/ts-loader.ts bench/run.ts
//
// Each .ts file is transpiled with the project's own TypeScript (types erased,
// nothing checked: `npm run typecheck` does that), and the NodeNext-style
// `./x.js` import of a `./x.ts` file is resolved to the .ts. Files stay where
// they are, so `import.meta.url` and the paths the test harnesses derive from
// it are the same as under jest.
//
// Transpiled files are cached in .cache/bench-ts/, and the main process fills
// the cache for src/, bench/ and test/support/ as it starts. The processes it
// spawns (servers whose memory is measured) then never load the TypeScript
// compiler, which would add some 75 MB to their resident memory.
//
// This file itself is loaded by Node's built-in type stripping, so it uses
// erasable syntax only.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire, registerHooks } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

type TypeScript = typeof import('typescript');

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE_DIR = join(ROOT, '.cache', 'bench-ts');
const LOADER_VERSION = '1';
let compiler: TypeScript | undefined;

function typescript(): TypeScript {
  compiler ??= createRequire(import.meta.url)('typescript') as TypeScript;
  return compiler;
}

function transpiled(file: string): string {
  const source = readFileSync(file, 'utf8');
  const key = createHash('sha1').update(`${LOADER_VERSION}\0${file}\0${source}`).digest('hex');
  const cached = join(CACHE_DIR, `${key}.js`);
  if (existsSync(cached)) return readFileSync(cached, 'utf8');
  const ts = typescript();
  const { outputText } = ts.transpileModule(source, {
    fileName: file,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2023, inlineSourceMap: true, inlineSources: true, verbatimModuleSyntax: true },
  });
  mkdirSync(CACHE_DIR, { recursive: true });
  // Write then rename: processes starting together never read half a file.
  const partial = `${cached}.${process.pid}.tmp`;
  writeFileSync(partial, outputText);
  renameSync(partial, cached);
  return outputText;
}

function prewarm(dir: string): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (entry === 'node_modules' || entry === 'results' || entry.startsWith('.')) continue;
    if (statSync(path).isDirectory()) prewarm(path);
    else if (entry.endsWith('.ts') && !entry.endsWith('.d.ts')) transpiled(path);
  }
}

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (/^\.{1,2}\//.test(specifier) && specifier.endsWith('.js') && context.parentURL?.endsWith('.ts')) {
      const tsUrl = new URL(specifier.replace(/\.js$/, '.ts'), context.parentURL);
      if (existsSync(fileURLToPath(tsUrl))) return { url: tsUrl.href, format: 'module', shortCircuit: true };
    }
    return nextResolve(specifier, context);
  },
  load(url, context, nextLoad) {
    if (url.startsWith('file:') && url.endsWith('.ts') && !url.includes('/node_modules/') && url !== import.meta.url) {
      return { format: 'module', source: transpiled(fileURLToPath(url)), shortCircuit: true };
    }
    return nextLoad(url, context);
  },
});

// Only the process that starts a run fills the cache; the ones it spawns (with an IPC channel) use it.
if (!process.send) for (const dir of ['src', 'bench', join('test', 'support')]) prewarm(join(ROOT, dir));

/** Whether this process had to load the TypeScript compiler (a cache miss). */
export function transpilerLoaded(): boolean {
  return compiler !== undefined;
}
