import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The fleet page: static files shipped in the package's `web/` folder, no build step. Only the
 * files named here are ever read, so no request path can reach another file (`/assets/../x`,
 * encoded dots, absolute paths all miss the list and get 404).
 */
export const PAGE_FILES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'fleet.css': 'text/css; charset=utf-8',
  'fleet.js': 'text/javascript; charset=utf-8',
  // Modules fleet.js imports.
  'format.js': 'text/javascript; charset=utf-8',
  'plot.js': 'text/javascript; charset=utf-8',
  'rows.js': 'text/javascript; charset=utf-8',
  'view.js': 'text/javascript; charset=utf-8',
  'icon.svg': 'image/svg+xml',
};

/**
 * Nothing from another origin: the page works offline and a value sent by a vehicle cannot make
 * the browser load or send anything elsewhere. Inline scripts and styles are refused too.
 */
const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export interface PageResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string;
}

/** The file a request path names: `/` is the page, `/assets/<name>` one of PAGE_FILES. */
export function pageFile(path: string): string | undefined {
  if (path === '/' || path === '/index.html') return 'index.html';
  if (!path.startsWith('/assets/')) return undefined;
  const name = path.slice('/assets/'.length);
  return Object.hasOwn(PAGE_FILES, name) && name !== 'index.html' ? name : undefined;
}

/** `web/` next to dist/ (installed package) or the repository root (tests compile to build/src/). */
export function findWebDir(from = dirname(fileURLToPath(import.meta.url))): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'web', 'index.html'))) return join(dir, 'web');
    if (dirname(dir) === dir) return undefined;
  }
}

/** The response for a page path, or undefined when the path is not the page's. */
export async function pageResponse(path: string, webDir: string | undefined): Promise<PageResponse | undefined> {
  const name = pageFile(path);
  if (!name) return undefined;
  const headers = {
    'content-type': PAGE_FILES[name],
    'content-security-policy': PAGE_CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    // Small files from the package: revalidated each load so an upgrade shows at once.
    'cache-control': 'no-cache',
  };
  if (!webDir) return { status: 404, headers: { ...headers, 'content-type': 'text/plain' }, body: 'fleet page files not found in the package (web/)\n' };
  return { status: 200, headers, body: await readFile(join(webDir, name)) };
}
