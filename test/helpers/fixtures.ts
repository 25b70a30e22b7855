import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** test/fixtures, found from both test/ (sources) and build/test/ (compiled). */
export function fixturesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'test', 'fixtures');
    try {
      readFileSync(join(candidate, 'conformance-public.json'));
      return candidate;
    } catch {
      const up = dirname(dir);
      if (up === dir) throw new Error('test/fixtures not found');
      dir = up;
    }
  }
}

export interface ConformanceCase {
  name: string;
  vin: string;
  frame_b64: string;
  expect: {
    response: 'ack' | 'error' | 'none';
    txid: string;
    topic?: string;
    publishes: { topic: string; payload: string }[];
  };
}

export interface Conformance {
  vin: string;
  topic_base: string;
  cases: ConformanceCase[];
}

export function loadConformance(): Conformance {
  return JSON.parse(readFileSync(join(fixturesDir(), 'conformance-public.json'), 'utf8')) as Conformance;
}

/**
 * Payload equality as subscribers see it: JSON structure equal with object keys in any order,
 * and every number's text exactly as written (65.4 is not 65.40000152587891). Returns a canonical
 * text: keys sorted, numbers verbatim from the source.
 */
export function canonicalJson(text: string): string {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i])) i++;
  };
  const value = (): string => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const entries: [string, string][] = [];
      ws();
      if (text[i] === '}') {
        i++;
        return '{}';
      }
      for (;;) {
        ws();
        const key = value();
        ws();
        if (text[i++] !== ':') throw new Error(`bad JSON at ${i}: ${text}`);
        entries.push([key, value()]);
        ws();
        if (text[i] === ',') i++;
        else if (text[i++] === '}') break;
        else throw new Error(`bad JSON at ${i}: ${text}`);
      }
      entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      return '{' + entries.map(([k, v]) => `${k}:${v}`).join(',') + '}';
    }
    if (c === '[') {
      i++;
      const items: string[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return '[]';
      }
      for (;;) {
        items.push(value());
        ws();
        if (text[i] === ',') i++;
        else if (text[i++] === ']') break;
        else throw new Error(`bad JSON at ${i}: ${text}`);
      }
      return '[' + items.join(',') + ']';
    }
    if (c === '"') {
      const start = i++;
      while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
      return JSON.stringify(JSON.parse(text.slice(start, i)));
    }
    const m = /^(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i));
    if (!m) throw new Error(`bad JSON at ${i}: ${text}`);
    i += m[0].length;
    return m[0];
  };
  const out = value();
  ws();
  if (i !== text.length) throw new Error(`trailing text in JSON: ${text}`);
  return out;
}
