import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import {
  DecodeError,
  DispatchError,
  DispatchTimeout,
  ERROR_CODES,
  FleetTelemetryError,
  HttpRefusal,
  InvalidRecord,
  isPermanent,
  TopicLevelError,
  UnreadableFrame,
} from '../src/errors.js';
import { WireError } from '../src/record/wire.js';
import { LinkError } from '../src/producers/mqtt/outbox.js';
import { PacketError } from '../src/producers/mqtt/packets.js';
import { PinMismatch } from '../src/producers/mqtt/transport.js';
import { DerivedUnavailable } from '../src/producers/derived.js';
import { KafkaConfigError } from '../src/producers/kafka/options.js';
import { PresenceNotPublished } from '../src/server/presence/port.js';
import { StartError } from '../src/server/start-error.js';
import { ConfigError } from '../src/config/errors.js';
import { UsageError } from '../src/cli/command.js';
import { ContractFailure } from '../src/testing/index.js';
import { ScoreOptionsError } from '../src/plugins/driver-score/options.js';
import { InvalidRecord as PluginInvalidRecord, FleetTelemetryError as PluginBase } from '../src/plugin/index.js';
import { readFrame } from '../src/envelope/index.js';
import { decodeRecord } from '../src/record/decode.js';
import { topicLevel } from '../src/publish/topics.js';
import { fixturesDir } from './helpers/fixtures.js';

const cause = new Error('underneath');

/** One of every error class in src/, made with a cause, and the permanence its type promises. */
const made: [string, FleetTelemetryError, boolean][] = [
  ['FleetTelemetryError', new FleetTelemetryError('KEY_NOT_PEM', 'm', { cause }), true],
  ['HttpRefusal', new HttpRefusal('FLEET_API_HTTP', 401, 'm', { cause }), true],
  ['UnreadableFrame', new UnreadableFrame('truncated', 'm', { cause }), true],
  ['DecodeError', new DecodeError('m', { cause }), true],
  ['WireError', new WireError('m', { cause }), true],
  ['InvalidRecord', new InvalidRecord('m', { cause }), true],
  ['TopicLevelError', new TopicLevelError('m', { cause }), true],
  ['PacketError', new PacketError('m', { cause }), true],
  ['DispatchError', new DispatchError('broker_unavailable', 'm', { cause }), false],
  ['LinkError', new LinkError('publish_timeout', 'm', { cause }), false],
  ['DispatchTimeout', new DispatchTimeout('m', { cause }), false],
  ['PresenceNotPublished', new PresenceNotPublished('m', { cause }), false],
  ['DerivedUnavailable', new DerivedUnavailable('m', { cause }), true],
  ['KafkaConfigError', new KafkaConfigError('m', { cause }), true],
  ['StartError', new StartError('m', { cause }), true],
  ['UsageError', new UsageError('m', { cause }), true],
  ['ScoreOptionsError', new ScoreOptionsError('m', { cause }), true],
  ['ContractFailure', new ContractFailure('check', cause), true],
];
const classes: Record<string, true> = Object.fromEntries(made.map(([n]) => [n, true]));

t.test('every code is unique, described, and says whether it is permanent', async (t) => {
  const codes = Object.keys(ERROR_CODES);
  t.equal(new Set(codes.map((c) => c.toLowerCase())).size, codes.length, 'no two codes differ only in case');
  for (const [code, e] of Object.entries(ERROR_CODES)) {
    t.match(code, /^([A-Z][A-Z0-9_]*|[a-z][a-z0-9_]*)$/, `${code}: one word of letters, digits and _`);
    t.type(e.permanent, 'boolean', `${code}: permanence`);
    t.ok(e.about.length > 0, `${code}: described`);
  }
  // Codes users see in logs, metrics and docs: the catalogue keeps them.
  for (const c of [
    'record_invalid',
    'undecodable_payload',
    'broker_unavailable',
    'publish_timeout',
    'derived_unavailable',
    'KEY_NOT_PEM',
    'FLEET_API_HTTP',
    'fleet_token_unreadable',
  ]) {
    t.ok(c in ERROR_CODES, `${c} kept`);
  }
});

t.test('every class: name, a catalogue code, cause kept, permanence of its type', async (t) => {
  for (const [name, err, permanent] of made) {
    t.ok(err instanceof FleetTelemetryError, `${name} is a FleetTelemetryError`);
    t.ok(err instanceof Error, `${name} is an Error`);
    t.equal(err.name, name, `${name}: name`);
    t.ok(err.code in ERROR_CODES, `${name}: code ${err.code} in the catalogue`);
    t.equal(err.cause, cause, `${name}: cause kept`);
    t.equal(err.permanent, permanent, `${name}: permanent ${permanent}`);
    t.equal(isPermanent(err), permanent, `${name}: isPermanent agrees`);
    if (!(err instanceof HttpRefusal)) t.equal(err.permanent, ERROR_CODES[err.code].permanent, `${name}: permanence is its code's`);
    t.match(String(err.stack), new RegExp(`^${name}: m|^${name}: producer contract`), `${name}: the stack names it`);
  }
  const config = new ConfigError('f.json', [{ code: 'unknown_key', path: '/x', message: 'unknown' }]);
  t.same([config.name, config.code, config.permanent], ['ConfigError', 'config_invalid', true], 'ConfigError');
  t.equal(new PinMismatch('abc').code, 'pin_mismatch', 'PinMismatch');
  t.notOk('cause' in new InvalidRecord('no cause'), 'no cause given: none set');
});

t.test('permanence follows the type, not the message', async (t) => {
  t.ok(new TopicLevelError('x') instanceof InvalidRecord, 'TopicLevelError is an InvalidRecord');
  t.ok(new WireError('x') instanceof DecodeError, 'WireError is a DecodeError');
  t.ok(new LinkError('connection_lost', 'x') instanceof DispatchError, 'LinkError is a DispatchError');
  for (const code of ['broker_unavailable', 'connection_lost', 'publish_timeout', 'producer_full', 'shutting_down', 'publish_failed'] as const) {
    t.equal(new DispatchError(code, 'x').permanent, false, `${code}: transient, the vehicle resends`);
  }
  t.equal(new HttpRefusal('FLEET_API_HTTP', 403, 'x').permanent, true, 'HTTP 403: permanent');
  t.equal(new HttpRefusal('FLEET_API_HTTP', 429, 'x').permanent, false, 'HTTP 429: try later');
  t.equal(new HttpRefusal('AUTH_FAILED', 503, 'x').permanent, false, 'HTTP 503: try later');
  t.equal(new FleetTelemetryError('FLEET_API_NETWORK', 'x').permanent, false, 'no answer: try later');
  // A plugin's own error (another copy of this package, or plain JS) says so by its property.
  t.equal(isPermanent(Object.assign(new Error('x'), { permanent: true })), true, 'foreign error with permanent: true');
  t.equal(isPermanent(new Error('x')), false, 'a plain error: transient');
  t.equal(isPermanent('text'), false, 'not an object: transient');
  t.equal(PluginInvalidRecord, InvalidRecord, 'the plugin API exports the same InvalidRecord');
  t.equal(PluginBase, FleetTelemetryError, 'and the same base');
});

t.test('the frame path throws catalogue errors', async (t) => {
  t.throws(() => readFrame(new Uint8Array(3)), { name: 'UnreadableFrame', code: 'frame_unreadable', flaw: 'truncated', permanent: true });
  t.throws(() => readFrame(new Uint8Array(64).fill(0xff)), { code: 'frame_unreadable', flaw: 'bad_offset' });
  const undecodable = (() => {
    try {
      decodeRecord('V', Uint8Array.of(0x0a, 0xff), 'VIN', 'tx');
    } catch (err) {
      return err;
    }
  })();
  t.type(undecodable, DecodeError, 'a bad payload: DecodeError');
  t.ok((undecodable as DecodeError).cause instanceof Error, 'with what the wire reader said as its cause');
  t.throws(() => decodeRecord('nope', new Uint8Array(0), 'VIN', 'tx'), { name: 'DecodeError', code: 'undecodable_payload' });
  t.throws(() => topicLevel('a'.repeat(300), 'field name'), { name: 'TopicLevelError', code: 'record_invalid', permanent: true });
});

/** The source files under src/, as [path, text]. */
function sources(): [string, string][] {
  const root = dirname(dirname(fixturesDir()));
  const src = join(root, 'src');
  const out: [string, string][] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) out.push([relative(root, p), readFileSync(p, 'utf8')]);
    }
  };
  walk(src);
  return out;
}

t.test('src/: every error class extends the catalogue; every wrapped message keeps its cause', async (t) => {
  const files = sources();
  t.ok(files.length > 50, 'the sources are found');
  const direct = files.filter(([p, s]) => p !== join('src', 'errors.ts') && /\bextends Error\b/.test(s)).map(([p]) => p);
  t.same(direct, [], 'only FleetTelemetryError extends Error');
  const lost: string[] = [];
  for (const [p, s] of files) {
    const re = /new ([A-Z]\w*)\(/g;
    for (let m = re.exec(s); m; m = re.exec(s)) {
      let i = m.index + m[0].length;
      for (let depth = 1; i < s.length && depth; i++) depth += s[i] === '(' ? 1 : s[i] === ')' ? -1 : 0;
      const args = s.slice(m.index + m[0].length, i - 1);
      const wraps = /\.message\b|String\((err|e|error)\)/.test(args);
      if (wraps && (/Error$/.test(m[1]) || m[1] in classes) && !/\bcause\b/.test(args)) lost.push(`${p}:${s.slice(0, m.index).split('\n').length}`);
    }
  }
  t.same(lost, [], "an error made from another error's message keeps it as cause");
});
