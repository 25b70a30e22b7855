// Deletes compiled files under dist/ and build/ whose TypeScript source is gone. tsc never removes
// an output, so after a rename the old name's test would still run in `make test` (which runs every
// build/test/**/*.test.js) and a stale module could still be imported: a second run in the same tree
// must see what a clean clone sees.
import { existsSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// Each output folder and the folder its sources are in (tsconfig.json, tsconfig.test.json).
const OUTPUTS = [
  { out: join(ROOT, 'dist'), src: join(ROOT, 'src') },
  { out: join(ROOT, 'build'), src: ROOT },
];
const COMPILED = /(\.d\.ts\.map|\.d\.ts|\.js\.map|\.js)$/;

/** Prunes `dir`; returns whether it is empty afterwards. */
function prune(dir, out, src, removed) {
  let left = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (prune(path, out, src, removed)) rmdirSync(path);
      else left++;
      continue;
    }
    const m = COMPILED.exec(entry.name);
    if (m && !existsSync(join(src, relative(out, dir), entry.name.slice(0, -m[1].length) + '.ts'))) {
      rmSync(path);
      removed.push(relative(ROOT, path));
    } else left++;
  }
  return left === 0;
}

const removed = [];
for (const { out, src } of OUTPUTS) if (existsSync(out)) prune(out, out, src, removed);
if (removed.length) console.log(`prune-build: removed ${removed.length} compiled files whose source is gone`);
