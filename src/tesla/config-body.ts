import { readFileSync } from 'node:fs';
import { FleetTelemetryError } from '../errors.js';
import { VIN_PATTERN } from '../tls/dev-certs.js';
import { unreadableReason } from '../unreadable.js';

/** The body `vehicle-config` prints: which cars, and the config they get. */
export interface ConfigBody {
  vins: string[];
  config: Record<string, unknown>;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Why a parsed body cannot be signed, or undefined when it can. */
function configBodyProblem(v: unknown): string | undefined {
  if (!isObj(v)) return 'not a JSON object';
  if (!Array.isArray(v.vins)) return '"vins" is not an array';
  for (const [i, vin] of v.vins.entries()) if (typeof vin !== 'string' || !VIN_PATTERN.test(vin)) return `vins[${i}] is not a VIN`;
  if (!isObj(v.config)) return '"config" is not an object';
  const c = v.config;
  if (typeof c.hostname !== 'string' || !c.hostname) return 'config.hostname is missing';
  if (typeof c.ca !== 'string' || !c.ca.includes('BEGIN CERTIFICATE')) return 'config.ca holds no PEM certificate';
  if (!isObj(c.fields) || Object.keys(c.fields).length === 0) return 'config.fields is missing or empty';
  if (c.port !== undefined && !(Number.isInteger(c.port) && (c.port as number) > 0 && (c.port as number) < 65536)) return 'config.port is not a port';
  if (c.exp !== undefined && typeof c.exp !== 'number') return 'config.exp is not a number';
  return undefined;
}

/** Reads a body file ("-" for stdin); a body that is not one is refused with the reason. */
export function readConfigBody(file: string): ConfigBody {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new FleetTelemetryError('BODY_INVALID', `${file}: cannot read it: ${unreadableReason(err)}`, { cause: err });
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new FleetTelemetryError('BODY_INVALID', `${file}: not JSON: ${(err as Error).message}`, { cause: err });
  }
  const problem = configBodyProblem(v);
  if (problem) throw new FleetTelemetryError('BODY_INVALID', `${file}: not the body vehicle-config prints: ${problem}`);
  return v as ConfigBody;
}
