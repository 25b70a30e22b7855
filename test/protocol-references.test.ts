import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot } from './helpers/server.js';

// Every `§` in the code names a section of docs/protocol.md that exists, or a section of a
// standard it names (RFC 6455, MQTT 3.1.1): a maintainer can look each one up.
const root = repoRoot();
const INTERNAL = /docs\/protocol\.md §(\d+(?:\.\d+)*)/g;
const EXTERNAL = /(?:RFC \d+|MQTT 3\.1\.1) §\d+(?:\.\d+)*/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Section numbers of docs/protocol.md's headings: `## 3. …` gives 3, `### 3.2 …` gives 3.2. */
function sections(markdown: string): Set<string> {
  return new Set([...markdown.matchAll(/^#{2,4} (\d+(?:\.\d+)*)\.? /gm)].map((m) => m[1]!));
}

/** What is wrong with the references of one line, given the sections that exist. */
function problems(line: string, known: Set<string>): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(INTERNAL)) if (!known.has(m[1]!)) out.push(`docs/protocol.md §${m[1]} does not exist`);
  if (line.replace(INTERNAL, '').replace(EXTERNAL, '').includes('§')) out.push(`a § that names no document: ${line.trim()}`);
  return out;
}

t.test('the check itself', async (t) => {
  const known = new Set(['3', '3.2']);
  t.same(problems('// docs/protocol.md §3.2 and RFC 6455 §5.5.3, MQTT 3.1.1 §4.7', known), []);
  t.equal(problems('// docs/protocol.md §3.9', known).length, 1, 'a section that does not exist');
  t.equal(problems('// contract §3', known).length, 1, 'a bare §');
  t.equal(problems('// docs/protocol.md §3 and §3.2', known).length, 1, 'a second bare § on a line');
});

t.test('every § reference in src/ resolves', async (t) => {
  const known = sections(readFileSync(join(root, 'docs/protocol.md'), 'utf8'));
  t.ok(known.has('3.2') && known.has('9'), 'the sections are read from the headings');
  let cited = 0;
  const broken: string[] = [];
  for (const file of sourceFiles(join(root, 'src'))) {
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        cited += [...line.matchAll(INTERNAL)].length;
        for (const p of problems(line, known)) broken.push(`${relative(root, file)}:${i + 1}: ${p}`);
      });
  }
  t.same(broken, [], 'no reference is broken or bare');
  t.ok(cited >= 40, `the code cites the protocol (${cited} references)`);
});
