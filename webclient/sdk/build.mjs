// Builds the SDK: dist/glint.js (one minified ES module, what the server embeds and serves
// at /sdk/glint.js), dist/types (the TypeScript declarations) and dist/hls.min.mjs (hls.js,
// loaded only when a player falls back to LL-HLS). Prints the gzipped size and fails past
// the budget. `--check` builds into a temporary directory and fails when the committed
// dist differs, so the embedded SDK cannot drift from its source.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const BUDGET = 25 * 1024; // gzipped bytes of glint.js (issue 14)
const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, '..', 'node_modules');
const check = process.argv.includes('--check');
const out = check ? mkdtempSync(join(tmpdir(), 'glint-sdk-')) : join(here, 'dist');

if (!check) rmSync(out, { recursive: true, force: true });
await build({
  entryPoints: [join(here, 'src', 'index.ts')],
  outfile: join(out, 'glint.js'),
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  legalComments: 'none',
  banner: { js: '// @glint/sdk — Glint\'s browser SDK (docs/SDK.md). Built from webclient/sdk/src; do not edit.' },
  logLevel: 'warning',
});
execFileSync(join(modules, '.bin', 'tsc'), ['-p', join(here, 'tsconfig.json'), '--outDir', join(out, 'types')], { stdio: 'inherit' });
cpSync(join(modules, 'hls.js', 'dist', 'hls.min.mjs'), join(out, 'hls.min.mjs'));

const js = readFileSync(join(out, 'glint.js'));
const gz = gzipSync(js, { level: 9 }).length;
console.log(`glint.js: ${js.length} bytes, ${gz} gzipped (budget ${BUDGET})`);
if (gz > BUDGET) {
  console.error(`glint.js is over its size budget by ${gz - BUDGET} bytes gzipped`);
  process.exit(1);
}

if (check) {
  const files = (dir) =>
    readdirSync(dir, { recursive: true })
      .filter((f) => statSync(join(dir, f)).isFile())
      .map((f) => relative(dir, join(dir, f)))
      .sort();
  const committed = join(here, 'dist');
  const want = files(out);
  const have = files(committed);
  const diff = [...new Set([...want, ...have])].filter(
    (f) => !want.includes(f) || !have.includes(f) || !readFileSync(join(out, f)).equals(readFileSync(join(committed, f))),
  );
  rmSync(out, { recursive: true, force: true });
  if (diff.length) {
    console.error(`webclient/sdk/dist is not what its source builds (${diff.join(', ')}): run \`npm run build:sdk\` in webclient and commit dist`);
    process.exit(1);
  }
  console.log('webclient/sdk/dist matches its source');
}
