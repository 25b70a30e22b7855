import { readFileSync } from 'node:fs';
import { unreadableReason } from '../../unreadable.js';

/** Shorter than this, a token can be guessed even at the failure limit. */
const MIN_TOKEN_LENGTH = 16;

export type TokenResult = { ok: true; token: string } | { ok: false; code: 'fleet_token_unreadable' | 'fleet_token_short'; message: string; cause?: unknown };

/** The fleet view's token: the file's content without surrounding white space. Never echoed. */
export function readFleetToken(file: string): TokenResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return {
      ok: false,
      code: 'fleet_token_unreadable',
      message: `monitoring.fleet_view.token_file ${file}: cannot read: ${unreadableReason(err)}`,
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
