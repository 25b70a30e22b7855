/**
 * A strict JSON syntax check that says where and why a hand-edited file is wrong (V8's messages
 * vary by version and some carry no position), and notes duplicate keys, which JSON.parse drops
 * silently. Values themselves still come from JSON.parse.
 */

import { pointerPart } from './errors.js';
import { FleetTelemetryError } from '../errors.js';

interface JsonSyntaxError {
  line: number;
  column: number;
  /** Dotted path of the value being read, '' at the top level. */
  inside: string;
  reason: string;
}

export interface JsonScan {
  error?: JsonSyntaxError;
  /** JSON Pointers of keys that appear more than once in their object. */
  duplicates: string[];
}

/** Ends the scan at the first syntax error; `error` holds where. */
class Stop extends FleetTelemetryError {
  constructor() {
    super('json_syntax', 'not valid JSON');
  }
}

export function scanJson(text: string): JsonScan {
  let i = 0;
  const duplicates: string[] = [];
  const stack: string[] = [];
  let error: JsonSyntaxError | undefined;

  const fail = (reason: string, at = i): never => {
    const before = text.slice(0, at).split('\n');
    error = {
      line: before.length,
      column: before[before.length - 1].replace(/\r$/, '').length + 1,
      inside: stack.map((p, n) => (/^\d+$/.test(p) ? `[${p}]` : n ? `.${p}` : p)).join(''),
      reason,
    };
    throw new Stop();
  };

  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };

  /** Explains a character that cannot start a value or a key. */
  const unexpected = (expected: string): never => {
    if (i >= text.length) return fail(`the file ends early; expected ${expected}`);
    const c = text[i];
    if (c === '/' && (text[i + 1] === '/' || text[i + 1] === '*')) return fail('comments are not allowed in JSON');
    if (c === "'") return fail('strings need double quotes (") in JSON, not single quotes');
    if (/[A-Za-z_]/.test(c)) {
      const word = /^[A-Za-z_][\w.-]*/.exec(text.slice(i))![0];
      return fail(`unexpected word ${word}; expected ${expected} (text needs double quotes)`);
    }
    return fail(`unexpected character ${JSON.stringify(c)}; expected ${expected}`);
  };

  const string = (): string => {
    const start = i;
    i++; // opening quote
    let out = '';
    for (;;) {
      if (i >= text.length) return fail('this string is never closed (missing ")', start);
      const c = text[i];
      if (c === '"') {
        i++;
        return out;
      }
      if (c === '\n' || c === '\r') return fail('line break inside a string (a missing " before it?)');
      if (c < ' ') return fail('control character inside a string; write it as an escape such as \\t');
      if (c === '\\') {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9A-Fa-f]{4}$/.test(text.slice(i + 2, i + 6))) fail('\\u needs four hex digits');
          out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
          i += 6;
          continue;
        }
        const map: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (e === undefined || !(e in map)) fail(`invalid escape \\${e ?? ''} in a string (a Windows path needs \\\\ or /)`);
        out += map[e];
        i += 2;
        continue;
      }
      out += c;
      i++;
    }
  };

  const number = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!m) return unexpected('a value');
    const after = text[i + m[0].length];
    if (m[1] === '0' && after !== undefined && /\d/.test(after)) fail('numbers cannot have leading zeros');
    if (after === '.' || (after !== undefined && /[\w]/.test(after))) fail('malformed number', i + m[0].length);
    i += m[0].length;
  };

  const value = (): void => {
    // Deep enough for any config, shallow enough never to overflow the stack.
    if (stack.length > 100) fail('nested more than 100 levels deep');
    ws();
    const c = text[i];
    if (c === '{') return object();
    if (c === '[') return array();
    if (c === '"') {
      string();
      return;
    }
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return number();
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, i) && !/[\w]/.test(text[i + word.length] ?? '')) {
        i += word.length;
        return;
      }
    }
    if (c === '}' || c === ']') return fail(`expected a value before ${JSON.stringify(c)}`);
    if (text.startsWith('True', i) || text.startsWith('False', i)) return fail('true and false are written in lower case in JSON');
    return unexpected('a value');
  };

  const object = () => {
    i++;
    const seen = new Set<string>();
    ws();
    if (text[i] === '}') {
      i++;
      return;
    }
    for (;;) {
      ws();
      if (text[i] === '}') return fail('a comma before "}" is not allowed (trailing comma)');
      if (text[i] !== '"') return unexpected('a key in double quotes');
      const key = string();
      if (seen.has(key)) duplicates.push('/' + [...stack, key].map(pointerPart).join('/'));
      seen.add(key);
      ws();
      if (text[i] !== ':') return fail(`expected ":" after the key "${key}"`);
      i++;
      stack.push(key);
      value();
      stack.pop();
      ws();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '}') {
        i++;
        return;
      }
      if (text[i] === '"') return fail(`missing comma after the value of "${key}"`);
      return unexpected(`"," or "}" after the value of "${key}"`);
    }
  };

  const array = () => {
    i++;
    ws();
    if (text[i] === ']') {
      i++;
      return;
    }
    for (let n = 0; ; n++) {
      ws();
      if (text[i] === ']') return fail('a comma before "]" is not allowed (trailing comma)');
      stack.push(String(n));
      value();
      stack.pop();
      ws();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === ']') {
        i++;
        return;
      }
      if (i < text.length && '"{[tfn-0123456789'.includes(text[i])) return fail('missing comma between list items');
      return unexpected('"," or "]" in a list');
    }
  };

  try {
    ws();
    if (i >= text.length) fail('the file is empty; a config is a JSON object');
    value();
    ws();
    if (i < text.length) unexpected('the end of the file after the closing "}"');
  } catch (err) {
    if (!(err instanceof Stop)) throw err;
  }
  return { error, duplicates };
}
