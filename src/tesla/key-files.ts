import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FleetTelemetryError } from '../errors.js';
import { generateAppKey, PRIVATE_KEY_FILE, PUBLIC_KEY_FILE, type AppKey } from './app-key.js';

export interface WrittenKeys {
  privateFile?: string;
  publicFile: string;
}

/** Writes a file only where none is; 'wx' makes the check and the create one step. */
function writeNew(file: string, text: string, mode: number): void {
  try {
    writeFileSync(file, text, { flag: 'wx', mode });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new FleetTelemetryError(
        'KEY_EXISTS',
        `${file} already exists: refused to overwrite it (a car paired with that key would stop trusting this application)`,
        { cause: err },
      );
    }
    throw err;
  }
}

/**
 * A new key pair in `dir`: the private key mode 0600 (a secret), the public one 0644 (it is
 * published). Nothing is written when either file is already there.
 */
export function writeNewKeyPair(dir: string): WrittenKeys {
  mkdirSync(dir, { recursive: true });
  const privateFile = join(dir, PRIVATE_KEY_FILE);
  const publicFile = join(dir, PUBLIC_KEY_FILE);
  for (const f of [privateFile, publicFile]) {
    let there = true;
    try {
      readFileSync(f);
    } catch {
      there = false;
    }
    if (there)
      throw new FleetTelemetryError(
        'KEY_EXISTS',
        `${f} already exists: refused to overwrite it (a car paired with that key would stop trusting this application)`,
      );
  }
  const { privatePem, publicPem } = generateAppKey();
  writeNew(privateFile, privatePem, 0o600);
  writeNew(publicFile, publicPem, 0o644);
  return { privateFile, publicFile };
}

/**
 * The public file for a key the owner already has. A public file already there is left alone
 * when it holds this key, refused when it holds another.
 */
export function writePublicFor(key: AppKey, dir: string): WrittenKeys {
  mkdirSync(dir, { recursive: true });
  const publicFile = join(dir, PUBLIC_KEY_FILE);
  let existing: string | undefined;
  try {
    existing = readFileSync(publicFile, 'utf8');
  } catch {
    existing = undefined;
  }
  if (existing !== undefined) {
    if (existing.trim() === key.publicPem.trim()) return { publicFile };
    throw new FleetTelemetryError('KEY_EXISTS', `${publicFile} already exists and holds another public key: refused to overwrite it`);
  }
  writeNew(publicFile, key.publicPem, 0o644);
  return { publicFile };
}
