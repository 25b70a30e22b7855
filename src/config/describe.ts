/**
 * Words for the schema: what a key allows, and one actionable line per ajv error. Shared by the
 * loader's errors and the rendered reference, so both say the same thing.
 */
import type { ErrorObject } from 'ajv';
import { configSchema } from './schema.js';
import { closest, dottedPath, nearest, pointerPart, type ConfigProblem } from './errors.js';

export interface SchemaNode {
  type?: string;
  enum?: readonly unknown[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  minItems?: number;
  default?: unknown;
  description?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
  items?: SchemaNode;
  required?: readonly string[];
  'x-origin'?: 'tesla' | 'project';
  'x-unused'?: string;
  'x-allowed'?: string;
  'x-secret'?: boolean;
  'x-env'?: string;
}

export const rootSchema = configSchema as unknown as SchemaNode;

/** The schema node that governs the value at a JSON Pointer, if any. */
export function schemaAt(pointer: string, root: SchemaNode = rootSchema): SchemaNode | undefined {
  let node: SchemaNode | undefined = root;
  for (const raw of pointer.split('/').slice(1)) {
    if (!node) return undefined;
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node.type === 'array') node = node.items;
    else if (node.properties && part in node.properties) node = node.properties[part];
    else node = typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined;
  }
  return node;
}

function list(values: readonly unknown[]): string {
  const shown = values.map((v) => JSON.stringify(v));
  return shown.length <= 1 ? shown.join('') : `${shown.slice(0, -1).join(', ')} or ${shown[shown.length - 1]}`;
}

/** What a key allows, in words: "an integer from 0 to 65535", "\"value\" or \"raw\"". */
export function allowedText(node: SchemaNode | undefined): string {
  if (!node) return 'nothing (remove this key)';
  if (node['x-allowed']) return node['x-allowed'];
  if (node.enum) return list(node.enum);
  switch (node.type) {
    case 'integer':
    case 'number': {
      const what = node.type === 'integer' ? 'an integer' : 'a number';
      if (node.minimum !== undefined && node.maximum !== undefined) return `${what} from ${node.minimum} to ${node.maximum}`;
      if (node.minimum !== undefined) return `${what} of at least ${node.minimum}`;
      if (node.exclusiveMinimum !== undefined) return `${what} greater than ${node.exclusiveMinimum}`;
      return what;
    }
    case 'boolean':
      return 'true or false';
    case 'string':
      return node.minLength ? 'a non-empty string' : 'a string';
    case 'array':
      return node.items?.type === 'string' ? 'a list of strings' : 'a list';
    case 'object':
      return 'an object';
    default:
      return 'any value';
  }
}

/** A value as the operator wrote it, shortened; secrets are never echoed. */
function showValue(value: unknown, node?: SchemaNode): string {
  if (node?.['x-secret']) return '(hidden value)';
  const s = JSON.stringify(value);
  if (s === undefined) return String(value);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function valueAt(data: unknown, pointer: string): unknown {
  let v = data;
  for (const raw of pointer.split('/').slice(1)) {
    v = (v as Record<string, unknown> | undefined)?.[raw.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return v;
}

function isSubsequence(short: string, long: string): boolean {
  let i = 0;
  for (const c of long.toLowerCase()) if (c === short[i]?.toLowerCase()) i++;
  return i === short.length;
}

/** Every dotted key path the schema knows, for suggestions across levels. */
function allPaths(node: SchemaNode, prefix = '', out: string[] = []): string[] {
  for (const [k, child] of Object.entries(node.properties ?? {})) {
    const p = prefix ? `${prefix}.${k}` : k;
    out.push(p);
    allPaths(child, p, out);
  }
  return out;
}
const ALL_PATHS = allPaths(rootSchema);

/** "unknown key" with the closest known key at that level, or the same name elsewhere. */
function unknownKeyProblem(parentPointer: string, key: string): ConfigProblem {
  const parent = schemaAt(parentPointer);
  const known = Object.keys(parent?.properties ?? {});
  const path = `${parentPointer}/${pointerPart(key)}`;
  const say = (names: string[]): ConfigProblem => ({
    code: 'unknown_key',
    path,
    message: `unknown key "${key}"; did you mean ${names.map((k) => `"${k}"`).join(' or ')}?`,
  });
  const where = parentPointer ? `in ${dottedPath(parentPointer)}` : 'at the top level';
  // A short level lists its keys; the top level is too long for one line.
  const listing = known.length <= 20 ? ` (known ${where}: ${known.join(', ')})` : ' (see docs/configuration.md)';
  const near = nearest(key, known);
  if (near && near.distance <= 1) return say([near.name]);
  // A shortened key: "alerts" for alerts_current / alerts_history, "opts" for options.
  const longer = known.filter((k) => key.length >= 3 && k.startsWith(key));
  if (longer.length) return say(longer);
  // The same name at another level: a key put in the wrong object.
  const elsewhere = ALL_PATHS.filter((p) => p.split('.').pop() === key);
  if (elsewhere.length) {
    const depth = Math.min(...elsewhere.map((p) => p.split('.').length));
    const shallow = elsewhere.filter((p) => p.split('.').length === depth).slice(0, 3);
    const owners = shallow.map((p) => `${p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : 'the top level'} (${p})`);
    return {
      code: 'unknown_key',
      path,
      message: `unknown key "${key}" ${where}; "${key}" is a key of ${owners.join(' or ')}${known.length <= 20 ? listing : ''}`,
    };
  }
  const abbreviated = known.filter((k) => key.length >= 4 && k.slice(0, 2) === key.slice(0, 2) && isSubsequence(key, k)).sort((a, b) => a.length - b.length);
  if (abbreviated.length) return say([abbreviated[0]]);
  const typo = closest(key, known);
  if (typo) return say([typo]);
  const far = nearest(key, known);
  return {
    code: 'unknown_key',
    path,
    message: far ? `unknown key "${key}"; the closest known key is "${far.name}"${listing}` : `unknown key "${key}"; no keys are allowed ${where}`,
  };
}

/** One line per ajv error, naming the path, the value and what is allowed. */
export function describeError(e: ErrorObject, data: unknown): ConfigProblem | undefined {
  // The inner failure of propertyNames; the propertyNames error itself names the key.
  if (e.schemaPath.includes('/propertyNames/')) return undefined;
  const path = e.instancePath;
  const node = schemaAt(path);
  const value = valueAt(data, path);
  const allowed = allowedText(node);
  switch (e.keyword) {
    case 'additionalProperties':
      return unknownKeyProblem(path, (e.params as { additionalProperty: string }).additionalProperty);
    case 'required': {
      const key = (e.params as { missingProperty: string }).missingProperty;
      const child = `${path}/${pointerPart(key)}`;
      return { code: 'missing_key', path: child, message: `required key "${key}" is missing; allowed: ${allowedText(schemaAt(child))}` };
    }
    case 'dependencies': {
      const { property, missingProperty } = e.params as { property: string; missingProperty: string };
      const child = `${path}/${pointerPart(missingProperty)}`;
      return {
        code: 'missing_key',
        path: child,
        message: `required key "${missingProperty}" is missing: ${property} needs it; allowed: ${allowedText(schemaAt(child))}`,
      };
    }
    case 'propertyNames': {
      const name = (e.params as { propertyName: string }).propertyName;
      return {
        code: 'reserved_name',
        path: `${path}/${pointerPart(name)}`,
        message: `"${name}" is a built-in producer; give the plugin producer another name`,
      };
    }
    case 'minItems':
      return {
        code: 'empty_list',
        path,
        message: `an empty list routes the record type nowhere; allowed: ${allowed}, or remove the key to leave the record type unpublished`,
      };
    case 'uniqueItems': {
      const { j } = e.params as { i: number; j: number };
      return {
        code: 'duplicate_item',
        path,
        message: `${showValue((value as unknown[])[j])} is listed twice; allowed: ${allowed}`,
      };
    }
    case 'type': {
      const wanted = node?.type;
      let hint = '';
      if (typeof value === 'string' && wanted && wanted !== 'string') {
        const unquoted = value.trim();
        if (
          (wanted === 'boolean' && /^(true|false)$/.test(unquoted)) ||
          ((wanted === 'integer' || wanted === 'number') && unquoted !== '' && !Number.isNaN(Number(unquoted)))
        ) {
          hint = ' (write it without quotes)';
        }
      }
      return { code: 'invalid_type', path, message: `${showValue(value, node)} is not allowed${hint}; allowed: ${allowed}` };
    }
    default:
      return { code: 'invalid_value', path, message: `${showValue(value, node)} is not allowed; allowed: ${allowed}` };
  }
}
