import t from 'tap';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot } from './helpers/server.js';

// The build leaves no compiled file whose source is gone (scripts/prune-build.mjs): after a
// rename, the old name's test would otherwise run again in this tree and not in a fresh clone.
const root = repoRoot();

function compiled(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? compiled(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : [],
  );
}

t.test('every compiled module under build/ and dist/ has its TypeScript source', async (t) => {
  const outputs = [
    { out: join(root, 'build'), src: root },
    { out: join(root, 'dist'), src: join(root, 'src') },
  ];
  const orphans = outputs.flatMap(({ out, src }) => compiled(out).filter((file) => !existsSync(join(src, relative(out, file)).replace(/\.js$/, '.ts'))));
  t.ok(compiled(join(root, 'build', 'test')).length > 50, 'the build is there to look at');
  t.same(
    orphans.map((f) => relative(root, f)),
    [],
    'no compiled file without a source',
  );
});
