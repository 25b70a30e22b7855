/**
 * Just enough PromQL and Prometheus text format to tell which metric names and labels a Grafana
 * query uses and whether a scrape exports them. Not a PromQL parser: the dashboard's queries are
 * the project's own, and the tests also run this on known expressions.
 */

const IDENT = /[a-zA-Z_:][a-zA-Z0-9_:]*/g;
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan', 'atan2']);
const GROUPING = /\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g;
const STRINGS = /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g;

/** Metric names an expression selects: identifiers that are not functions, keywords, labels or numbers. */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/\{(?:[^}"]|"(?:[^"\\]|\\.)*")*\}/g, '{}')
    .replace(STRINGS, '""')
    .replace(/\[[^\]]*\]/g, '[]')
    .replace(GROUPING, ' ');
  const names = new Set<string>();
  for (const m of bare.matchAll(IDENT)) {
    const before = bare[m.index - 1];
    const after = bare.slice(m.index + m[0].length).trimStart()[0];
    if (after === '(') continue; // a function
    if (before !== undefined && /[0-9.$]/.test(before)) continue; // 1e3, 5m, a Grafana $variable
    if (KEYWORDS.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return [...names];
}

/** Label names an expression refers to: in selectors `{name op "…"}` and in by/without/on/ignoring lists. */
export function labelNames(expr: string): string[] {
  const out = new Set<string>();
  for (const sel of expr.matchAll(/\{((?:[^}"]|"(?:[^"\\]|\\.)*")*)\}/g)) {
    for (const m of sel[1].replace(STRINGS, '""').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)) out.add(m[1]);
  }
  for (const g of expr.replace(STRINGS, '""').matchAll(GROUPING)) {
    for (const l of g[2].split(',')) if (l.trim()) out.add(l.trim());
  }
  return [...out];
}

/** Metric names a Grafana variable query uses: label_values(metric, label) or query_result(expr). */
export function variableMetricNames(query: string): string[] {
  const lv = /^\s*label_values\(\s*([^,)]*?)\s*(,[^)]*)?\)\s*$/.exec(query);
  if (lv) return lv[2] === undefined ? [] : metricNames(lv[1]);
  const qr = /^\s*query_result\((.*)\)\s*$/.exec(query);
  if (qr) return metricNames(qr[1]);
  const names = /^\s*metrics\(/.test(query) ? [] : metricNames(query);
  return names;
}

export interface Scrape {
  /** Family name → type, from the # TYPE lines. */
  types: Map<string, string>;
  /** Sample name → the label names seen on its samples. */
  samples: Map<string, Set<string>>;
}

/** Prometheus text format: # TYPE lines and sample lines; throws on a line that is neither. */
export function parseScrape(text: string): Scrape {
  const types = new Map<string, string>();
  const samples = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    if (!line) continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1], type[2]);
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+( \d+)?$/.exec(line);
    if (!m) throw new Error(`unparsable metrics line: ${line}`);
    let labels = samples.get(m[1]);
    if (!labels) samples.set(m[1], (labels = new Set()));
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) labels.add(l[1]);
  }
  return { types, samples };
}

const SERIES_OF: Record<string, string[]> = { histogram: ['_bucket', '_sum', '_count'], summary: ['', '_sum', '_count'] };

/**
 * Whether `name` is a series the scrape exports. A histogram is queried through its _bucket,
 * _sum and _count series only; those suffixes are stripped only for a family declared histogram
 * (or summary), so `x_count` of a counter named x is not taken for one.
 */
export function resolveName(s: Scrape, name: string): { declared: boolean; sampled: boolean; why?: string } {
  const type = s.types.get(name);
  if (type && type in SERIES_OF && !SERIES_OF[type].includes('')) {
    return { declared: false, sampled: false, why: `${name} is a ${type}: query ${SERIES_OF[type].map((x) => name + x).join(', ')}` };
  }
  if (type) return { declared: true, sampled: s.samples.has(name) };
  for (const [kind, suffixes] of Object.entries(SERIES_OF)) {
    for (const suffix of suffixes) {
      if (!suffix || !name.endsWith(suffix)) continue;
      if (s.types.get(name.slice(0, -suffix.length)) === kind) return { declared: true, sampled: s.samples.has(name) };
    }
  }
  return { declared: false, sampled: false, why: `${name} is not in the scrape` };
}
