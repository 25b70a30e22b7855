import { readFileSync } from 'node:fs';
import { readAppKey, publicKeyFingerprint, PUBLIC_KEY_PATH } from '../../tesla/app-key.js';
import { writeNewKeyPair, writePublicFor } from '../../tesla/key-files.js';
import { parseArgs, UsageError, type Command } from '../command.js';

const keys: Command = {
  summary: 'make the application key pair (P-256), or the public key file for a key you have',
  usage: [
    'usage: fleet-telemetry tesla keys --out DIR [--from KEY]',
    '',
    '  --out DIR    where to write: DIR/private-key.pem (PKCS#8, mode 0600) and',
    '               DIR/com.tesla.3p.public-key.pem (the file Tesla fetches from your domain)',
    '  --from KEY   an unencrypted P-256 private key you already have: write only its public file',
    '',
    'Never overwrites a key. Prints the files and the public key fingerprint (SHA-256 of its DER).',
  ].join('\n'),

  async run(argv) {
    const { flags, positionals } = parseArgs(argv, { strings: ['out', 'from'] });
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
    const out = flags.out as string | undefined;
    if (!out) throw new UsageError('--out DIR is required');
    const from = flags.from as string | undefined;
    const written = from !== undefined ? writePublicFor(readAppKey(from), out) : writeNewKeyPair(out);
    const fingerprint = publicKeyFingerprint(readFileSync(written.publicFile, 'utf8'));
    if (written.privateFile) process.stdout.write(`private key: ${written.privateFile} (mode 0600: keep it secret, back it up)\n`);
    else process.stdout.write(`private key: ${from} (left as it is)\n`);
    process.stdout.write(`public key:  ${written.publicFile}\n`);
    process.stdout.write(`fingerprint: ${fingerprint}\n`);
    process.stdout.write(`next: serve it at https://<your domain>${PUBLIC_KEY_PATH} (tesla.public_key_port does that)\n`);
    return 0;
  },
};

export default keys;
