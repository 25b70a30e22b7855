import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot } from './helpers/server.js';

// Every `§` in the code names a section that exists of a document under docs/ (mostly
// docs/protocol.md), or a section of a standard it names (RFC 6455, MQTT 3.1.1): a maintainer
// can look each one up.
const root = repoRoot();
const INTERNAL = /docs\/([\w-]+\.md) §(\d+(?:\.\d+)*)/g;
const PROTOCOL = /docs\/protocol\.md §/g;
const EXTERNAL = /(?:RFC \d+|MQTT 3\.1\.1) §\d+(?:\.\d+)*/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Section numbers of a document's headings: `## 3. …` gives 3, `### 3.2 …` gives 3.2. */
function sections(markdown: string): Set<string> {
  return new Set([...markdown.matchAll(/^#{2,4} (\d+(?:\.\d+)*)\.? /gm)].map((m) => m[1]));
}

/** The sections of docs/<name>, read once; empty for a document that is not there. */
function docSections(): (name: string) => Set<string> {
  const read = new Map<string, Set<string>>();
  return (name) => {
    let known = read.get(name);
    if (!known) {
      let text = '';
      try {
        text = readFileSync(join(root, 'docs', name), 'utf8');
      } catch {
        // a document that does not exist has no sections
      }
      read.set(name, (known = sections(text)));
    }
    return known;
  };
}

/** What is wrong with the references of one line, given the sections each document has. */
function problems(line: string, known: (doc: string) => Set<string>): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(INTERNAL)) if (!known(m[1]).has(m[2])) out.push(`docs/${m[1]} §${m[2]} does not exist`);
  if (line.replace(INTERNAL, '').replace(EXTERNAL, '').includes('§')) out.push(`a § that names no document: ${line.trim()}`);
  return out;
}

t.test('the check itself', async (t) => {
  const docs: Record<string, Set<string>> = { 'protocol.md': new Set(['3', '3.2']), 'plugins.md': new Set(['2.4']) };
  const known = (doc: string) => docs[doc] ?? new Set<string>();
  t.same(problems('// docs/protocol.md §3.2 and RFC 6455 §5.5.3, MQTT 3.1.1 §4.7', known), []);
  t.same(problems('// docs/plugins.md §2.4', known), [], 'another document of docs/');
  t.equal(problems('// docs/plugins.md §3.2', known).length, 1, 'a section that document does not have');
  t.equal(problems('// docs/nothing.md §1', known).length, 1, 'a document that does not exist');
  t.equal(problems('// docs/protocol.md §3.9', known).length, 1, 'a section that does not exist');
  t.equal(problems('// contract §3', known).length, 1, 'a bare §');
  t.equal(problems('// docs/protocol.md §3 and §3.2', known).length, 1, 'a second bare § on a line');
});

t.test('every § reference in src/ resolves', async (t) => {
  const known = docSections();
  t.ok(known('protocol.md').has('3.2') && known('protocol.md').has('9'), 'the sections are read from the headings');
  let cited = 0;
  const broken: string[] = [];
  for (const file of sourceFiles(join(root, 'src'))) {
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        cited += [...line.matchAll(PROTOCOL)].length;
        for (const p of problems(line, known)) broken.push(`${relative(root, file)}:${i + 1}: ${p}`);
      });
  }
  t.same(broken, [], 'no reference is broken or bare');
  t.ok(cited >= 40, `the code cites the protocol (${cited} references)`);
});
