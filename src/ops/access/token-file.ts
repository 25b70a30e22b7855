import { readFileSync } from 'node:fs';

/** Shorter than this, a token can be guessed even at the failure limit. */
const MIN_TOKEN_LENGTH = 16;

export type TokenResult = { ok: true; token: string } | { ok: false; code: 'fleet_token_unreadable' | 'fleet_token_short'; message: string; cause?: unknown };

/** The fleet view's token: the file's content without surrounding white space. Never echoed. */
export function readFleetToken(file: string): TokenResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return {
      ok: false,
      code: 'fleet_token_unreadable',
      message: `monitoring.fleet_view.token_file ${file}: cannot read: ${code === 'ENOENT' ? 'no such file' : (code ?? (err as Error).message)}`,
      cause: err,
    };
  }
  const token = text.trim();
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    return {
      ok: false,
      code: 'fleet_token_short',
      message: `monitoring.fleet_view.token_file ${file}: the token must be at least ${MIN_TOKEN_LENGTH} characters with no white space inside (e.g. openssl rand -hex 32)`,
    };
  }
  return { ok: true, token };
}
