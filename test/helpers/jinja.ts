import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './server.js';

const RENDER = join(repoRoot(), 'test', 'helpers', 'jinja-render.py');
// Debian's python3-jinja2 (what `make test` installs) is for /usr/bin/python3, which another
// python3 first on PATH (pyenv, a venv) may not see.
const PYTHON = ['python3', '/usr/bin/python3'].find((py) => spawnSync(py, ['-c', 'import jinja2']).status === 0) ?? 'python3';

/** Renders each Home Assistant template on its payload (as `value_json`) with real Jinja2. */
export function renderTemplates(jobs: { template: string; payload: string }[]): { ok?: string; error?: string }[] {
  const r = spawnSync(PYTHON, [RENDER], { input: jobs.map((j) => JSON.stringify(j)).join('\n') + '\n', encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`jinja-render.py: ${r.stderr}`);
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { ok?: string; error?: string });
}
