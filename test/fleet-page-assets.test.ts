import t from 'tap';
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PAGE_FILES, pageFile } from '../src/ops/page.js';
import { startMonitored } from './helpers/monitored.js';
import { repoRoot } from './helpers/server.js';

// The fleet page's files (issue #23) on the monitoring port: types, CSP, and nothing else readable.

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request with the path sent exactly as written: fetch() would resolve `..` before sending. */
function raw(port: number, path: string, method = 'GET'): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('pageFile names only the listed files', async (t) => {
  t.equal(pageFile('/'), 'index.html');
  t.equal(pageFile('/assets/fleet.js'), 'fleet.js');
  for (const bad of [
    '/assets/../package.json',
    '/assets/%2e%2e/package.json',
    '/assets/',
    '/assets/constructor',
    '/assets/toString',
    '/assets/__proto__',
    '/assets/fleet.js/',
    '/assets//etc/passwd',
    '/fleet.js',
    '/assets/index.html',
  ])
    t.equal(pageFile(bad), undefined, bad);
});

t.test('the page and its assets are served with their types and a CSP; other paths are refused', async (t) => {
  const { server, port } = await startMonitored(t.testdir());
  t.teardown(() => server.stop());
  t.notOk(
    server.logs.some((l) => l.event === 'fleet_page_missing'),
    'web/ found from dist/',
  );

  const page = await raw(port, '/');
  t.equal(page.status, 200, 'GET / answers');
  t.equal(page.headers['content-type'], 'text/html; charset=utf-8');
  const csp = String(page.headers['content-security-policy']);
  t.match(csp, /(^|; )default-src 'self'(;|$)/, 'CSP: own origin only by default');
  t.match(csp, /(^|; )connect-src 'self'(;|$)/, 'CSP: the event stream only from the page origin');
  t.notMatch(csp, /https?:|\*|'unsafe-inline'|'unsafe-eval'|data:/, 'CSP names no remote origin, wildcard, data: or inline code');
  t.equal(page.headers['x-content-type-options'], 'nosniff');
  t.equal(page.body, readFileSync(join(repoRoot(), 'web', 'index.html'), 'utf8'), 'the packaged index.html');

  // Every asset the page links to is one the server serves, with its type.
  const linked = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
  // The modules fleet.js imports are preloaded beside it.
  t.same(
    linked.sort(),
    ['/assets/fleet.css', '/assets/fleet.js', '/assets/format.js', '/assets/icon.svg', '/assets/plot.js', '/assets/rows.js', '/assets/view.js'],
    'the page links only its own assets',
  );
  for (const [name, type] of Object.entries(PAGE_FILES)) {
    if (name === 'index.html') continue;
    const r = await raw(port, `/assets/${name}`);
    t.equal(r.status, 200, `/assets/${name}`);
    t.equal(r.headers['content-type'], type, `/assets/${name} type`);
    t.equal(r.headers['content-security-policy'], csp, `/assets/${name} carries the CSP`);
    t.equal(r.body, readFileSync(join(repoRoot(), 'web', name), 'utf8'), `/assets/${name} body`);
  }

  const pkg = readFileSync(join(repoRoot(), 'package.json'), 'utf8');
  for (const path of [
    '/assets/../package.json',
    '/assets/%2e%2e/package.json',
    '/assets/..%2fpackage.json',
    '/assets/../../etc/passwd',
    '/assets/',
    '/assets/nope.js',
    '/assets/constructor',
    '/../package.json',
    '/package.json',
    '/web/fleet.js',
  ]) {
    const r = await raw(port, path);
    t.equal(r.status, 404, `${path} refused`);
    t.notOk(r.body.includes('"dependencies"') || r.body.includes('root:'), `${path} leaks no file`);
  }
  t.ok(pkg.includes('"web"'), 'web/ ships in the package (package.json files)');

  const head = await raw(port, '/', 'HEAD');
  t.equal(head.status, 200, 'HEAD /');
  t.equal(head.body, '', 'HEAD has no body');
  t.equal((await raw(port, '/', 'POST')).status, 405, 'POST / refused');
  t.equal(await server.stop(), 0, 'server stops cleanly');
});
