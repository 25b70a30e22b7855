/**
 * Renders the configuration reference (docs/configuration.md) from the schema, so the docs cannot
 * drift from what the loader accepts. Regenerate with:
 *   npx tsc -p tsconfig.json && node dist/config/reference.js docs/configuration.md
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { allowedText, rootSchema, type SchemaNode } from './describe.js';
import { MQTT_PASSWORD_ENV, MQTT_USERNAME_ENV, REFUSED_PRODUCERS, UNUSED_KEY_NOTES } from './schema.js';
import { EXPIRY_WARN_DAYS } from '../tls/check.js';

const REGENERATE = 'node dist/config/reference.js docs/configuration.md';

/** Table-cell text: pipes escaped, and <name> kept visible (renderers take it for HTML). */
function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function anchorOf(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');
}

interface Section {
  title: string;
  node: SchemaNode;
}

/** Object nodes with their own keys, depth first, each becoming one table. */
function sections(node: SchemaNode, title: string, out: Section[] = []): Section[] {
  out.push({ title, node });
  for (const [k, child] of Object.entries(node.properties ?? {})) {
    const path = title === 'Top level' ? k : `${title}.${k}`;
    if (child.properties) sections(child, path, out);
    else if (typeof child.additionalProperties === 'object' && child.additionalProperties.properties) {
      sections(child.additionalProperties, `${path}.<name>`, out);
    }
  }
  return out;
}

function defaultText(node: SchemaNode, required: boolean): string {
  if (required) return 'required';
  if (node.default === undefined) return '';
  if (typeof node.default === 'object' && !Array.isArray(node.default)) return '';
  return `\`${JSON.stringify(node.default)}\``;
}

function row(key: string, node: SchemaNode, required: boolean, title: string): string {
  const path = title === 'Top level' ? key : `${title}.${key}`;
  const link = (p: string) => `[\`${p}\`](#${anchorOf(p)})`;
  let allowed = cell(allowedText(node));
  if (node.properties) allowed = `an object, see ${link(path)}`;
  else if (typeof node.additionalProperties === 'object' && node.additionalProperties.properties) {
    allowed = `an object of name → object, see ${link(`${path}.<name>`)}`;
  }
  const origin = node['x-origin'] === 'project' ? 'this server' : node['x-origin'] === 'tesla' ? 'Tesla' : '';
  let desc = node.description ?? '';
  if (node['x-unused'] && !desc.includes('not used')) desc += ` Accepted and not used: ${node['x-unused']}.`;
  return `| \`${key}\` | ${allowed} | ${cell(defaultText(node, required))} | ${origin} | ${cell(desc.trim())} |`;
}

/** The whole reference as markdown. */
export function renderReference(): string {
  const out: string[] = [];
  out.push('# Configuration reference');
  out.push('');
  out.push(`<!-- Generated from src/config/schema.ts by \`${REGENERATE}\`; edit the schema, not this file. A test keeps the two equal. -->`);
  out.push('');
  out.push(
    'The server reads one JSON file: `fleet-telemetry serve --config FILE`. A `config.json` written for ' +
      "Tesla's fleet-telemetry server keeps working: its keys keep their meaning, and the Tesla keys this " +
      'server does not use are accepted and named in one warning at start-up. Relative paths resolve from ' +
      "the config file's directory. `fleet-telemetry check-config FILE` validates a file and checks its TLS " +
      'material without starting anything.',
  );
  out.push('');
  out.push('## Environment variables');
  out.push('');
  out.push(
    '- Any string value may reference an environment variable as `${NAME}`; a variable that is not set is an error naming it. `$${NAME}` stays the literal text `${NAME}`. Values inside the Tesla keys this server does not use are left as written.',
  );
  out.push('- A value that is exactly one reference takes the type of its key, so `"port": "${PORT}"` gives a number.');
  out.push(
    `- \`${MQTT_USERNAME_ENV}\` and \`${MQTT_PASSWORD_ENV}\` supply \`mqtt.username\` and \`mqtt.password\` when the file does not set them, so secrets can stay out of the file.`,
  );
  out.push('');
  out.push('## Keys');
  out.push('');
  out.push(
    'Allowed values and defaults are enforced as listed; a default applies when the key is absent. "From" tells a key of Tesla\'s config.json from one of this server.',
  );
  for (const s of sections(rootSchema, 'Top level')) {
    out.push('');
    out.push(`### ${s.title === 'Top level' ? s.title : `\`${s.title}\``}`);
    out.push('');
    if (s.title !== 'Top level' && s.node.description) {
      out.push(s.node.description.replace(/</g, '&lt;').replace(/>/g, '&gt;'));
      out.push('');
    }
    out.push('| Key | Allowed | Default | From | Description |');
    out.push('|---|---|---|---|---|');
    const required = new Set(s.node.required ?? []);
    for (const [k, child] of Object.entries(s.node.properties ?? {})) out.push(row(k, child, required.has(k), s.title));
  }
  out.push('');
  out.push('## Tesla keys accepted but not used');
  out.push('');
  out.push('These are accepted with any content of the right type and named, with the reason, in one warning at start-up and by check-config:');
  out.push('');
  out.push('| Key | Why it is not used |');
  out.push('|---|---|');
  for (const [k, note] of UNUSED_KEY_NOTES) out.push(`| \`${k}\` | ${cell(note)} |`);
  out.push('');
  out.push(
    `A record type routed to one of Tesla's producers that this server refuses is an error naming the producer, the record types that use it and why, ` +
      'unless a plugin of that name is declared under `producers`: ' +
      Object.entries(REFUSED_PRODUCERS)
        .map(([p, why]) => `\`${p}\` (${why})`)
        .join(', ') +
      '. A block of a shipped Tesla producer (`kafka`, `kinesis`, `redis`, `zmq`) that no record type routes to is named in the same warning as the keys above.',
  );
  out.push('');
  out.push('## Errors');
  out.push('');
  out.push(
    'Every problem is one line, `FILE: path: message [code /json/pointer]`, naming the value and what is allowed; `serve` and `check-config` exit with status 2 before opening any socket. The codes:',
  );
  out.push('');
  out.push('| Code | Meaning |');
  out.push('|---|---|');
  for (const [code, meaning] of ERROR_CODES) out.push(`| \`${code}\` | ${meaning} |`);
  out.push('');
  out.push('## check-config and start-up checks');
  out.push('');
  out.push(
    '`fleet-telemetry check-config FILE [--hostname NAME]` prints one line per check, `ok`, `warn` or `fail`, and exits 1 when any check fails. `serve` runs the same checks before loading its TLS material: a failure stops it (exit 2), a warning is logged.',
  );
  out.push('');
  for (const [check, what] of CHECKS) out.push(`- \`${check}\`: ${what}`);
  out.push('');
  return out.join('\n');
}

const ERROR_CODES: [string, string][] = [
  ['json_syntax', 'the file is not JSON; the line and column of the first error'],
  ['unreadable', 'the file cannot be read'],
  ['invalid_type', 'a value of the wrong type'],
  ['invalid_value', 'a value outside what the key allows'],
  ['unknown_key', "a key that is neither Tesla's nor this server's; the closest known key is named"],
  ['missing_key', 'a required key is absent'],
  ['empty_list', 'a record type routed to no producer'],
  ['duplicate_item', 'a producer listed twice for one record type'],
  ['unknown_producer', 'a producer name that is neither built in nor declared under `producers`'],
  ['unsupported_producer', "one of Tesla's producers that this server refuses, with the reason"],
  ['producer_not_configured', 'a record type routes to kafka, kinesis, redis or zmq and its block, or a key it needs, is missing'],
  ['reserved_name', 'a plugin producer named like a built-in one'],
  ['port_conflict', 'two listeners (port, status_port, the metrics port, the embedded broker, the public key page) on one port'],
  ['ca_required', '`tls.trust_tesla_ca` is false and `tls.ca_file` is not set'],
  ['private_key_required', '`tesla.public_key_port` is set and `tesla.private_key` is not'],
  ['env_missing', 'a `${NAME}` reference to an environment variable that is not set'],
];

const CHECKS: [string, string][] = [
  [
    'config',
    'the file is valid; which producers each record type goes to; accepted-but-unused keys, keys given twice and declared plugins no record type uses (warnings).',
  ],
  ['server_cert', '`tls.server_cert` reads and parses; the first certificate is the server certificate.'],
  ['server_key', '`tls.server_key` reads, is not encrypted, and is the key of the server certificate.'],
  [
    'chain',
    'each certificate up from the server certificate is found in `server_cert`, then in `ca_file`. A certificate whose issuer is in neither is a missing intermediate (fail) when only the server certificate is sent and a `ca_file` is set; with no `ca_file` the issuer may be the root vehicles are given, so it is a warning. A chain that sends its intermediates and stops below the root is complete.',
  ],
  ['expiry', `each certificate of the server chain: expired or not yet valid fails; expiring within ${EXPIRY_WARN_DAYS} days warns.`],
  ['names', 'the names (subjectAltName) the server certificate covers; none is a warning. With `--hostname`, each name must be covered (`hostname`).'],
  ['usage', 'warns when the server certificate is a CA or not meant for TLS server authentication.'],
  ['ca_file', 'parses and holds only CA certificates, none expired (fail) or expiring soon (warning).'],
  ['tesla_ca', "Tesla's bundle in use, for information: an expired CA certificate in it stays in the client-CA pool and is never a failure."],
  [
    'tesla_key',
    '`tesla.private_key` reads and is an unencrypted P-256 private key (the reason otherwise); its fingerprint (SHA-256 of the public key DER); a file others may read warns.',
  ],
  [
    'public_key_page',
    'with `tesla.public_key_port`: the URL the page answers and the fingerprint it serves; a port other than 443 warns that Tesla fetches 443.',
  ],
  [
    'plugin',
    'check-config only: each module under `producers` is imported as `serve` imports it (its factory is not called, so nothing starts); a path or package that does not load, or a module that exports no factory, fails. `serve` stops at start on the same problem.',
  ],
];

// `node dist/config/reference.js [FILE]`: print, or write FILE.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const target = process.argv[2];
  if (target) writeFileSync(target, renderReference());
  else process.stdout.write(renderReference());
}
