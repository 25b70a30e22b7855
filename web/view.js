// Fleet page: which rows the table shows (search, state filter, sort, page) and how that view is
// written in the URL, so a view can be shared and a reload restores it. Pure functions.
import { isCharging, total } from './format.js';

export const PAGE_SIZE = 50;

/** State filters: [value, label, predicate]. "Disconnected" covers asleep: the server cannot tell them apart. */
export const STATES = [
  ['all', 'All vehicles', () => true],
  ['connected', 'Connected', (v) => v.connected],
  ['disconnected', 'Asleep or disconnected', (v) => !v.connected],
  ['charging', 'Charging', isCharging],
  ['alerts', 'With active alerts', (v) => total(v.alert_counts) > 0],
  ['faults', 'With faults', (v) => !!(v.alert_counts && v.alert_counts.fault)],
  ['errors', 'With errors', (v) => total(v.error_counts) > 0],
];
const STATE_TEST = new Map(STATES.map(([k, , f]) => [k, f]));

// Most serious first when sorted descending: faults weigh more than any number of warnings.
const weight = (c) => (c ? c.fault * 1e6 + c.warning * 1e3 + c.info : 0);
const key = (name) => (v) => (v.key ? v.key[name] : null);

/** Sort keys per column; null sorts last in either direction. */
export const SORT_KEYS = {
  vehicle: (v) => (v.name || v.vin).toLowerCase(),
  status: (v) => (v.connected ? 0 : 1),
  last: (v) => v.last_frame_at,
  alerts: (v) => weight(v.alert_counts),
  errors: (v) => weight(v.error_counts),
  soc: key('soc'),
  range: key('range'),
  speed: key('speed'),
  gear: key('gear'),
  charging: (v) => (v.connected ? '' : '~') + ((v.key && v.key.charging) || ''),
  odometer: key('odometer'),
  firmware: key('firmware'),
  trip: (v) => v.trip_score,
};

export const DEFAULT_VIEW = Object.freeze({ q: '', state: 'all', sort: 'vehicle', dir: 'asc', page: 1 });

/** The view from a URL query string; anything unknown falls back to the default. */
export function viewFromQuery(search) {
  const p = new URLSearchParams(search);
  const page = Number.parseInt(p.get('page') ?? '', 10);
  return {
    q: (p.get('q') ?? '').slice(0, 200),
    state: STATE_TEST.has(p.get('state')) ? p.get('state') : DEFAULT_VIEW.state,
    sort: Object.hasOwn(SORT_KEYS, p.get('sort') ?? '') ? p.get('sort') : DEFAULT_VIEW.sort,
    dir: p.get('dir') === 'desc' ? 'desc' : 'asc',
    page: Number.isFinite(page) && page > 0 ? page : 1,
  };
}

/** The query string of a view: defaults left out, so a plain view keeps a plain URL. */
export function queryOf(view) {
  const p = new URLSearchParams();
  for (const k of ['q', 'state', 'sort', 'dir', 'page']) if (view[k] !== DEFAULT_VIEW[k]) p.set(k, String(view[k]));
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** Lower-case VIN and name, kept on the row at its first search so later ones over 10,000 rows allocate nothing. */
export const searchText = (v) => `${v.vin}\n${v.name ?? ''}`.toLowerCase();

function compare(a, b) {
  if (a === b) return 0;
  if (a == null) return 1;
  if (b == null) return -1;
  return a < b ? -1 : 1;
}

/**
 * Rows matching the search and filter, sorted, and the page of them to show. `rows` are
 * `{v, text}` (text: searchText, made here when missing). Ties keep VIN order.
 */
export function applyView(rows, view) {
  const q = view.q.trim().toLowerCase();
  const test = STATE_TEST.get(view.state) ?? (() => true);
  const match = rows.filter((r) => (!q || (r.text ??= searchText(r.v)).includes(q)) && test(r.v));
  const sortKey = SORT_KEYS[view.sort] ?? SORT_KEYS.vehicle;
  const sign = view.dir === 'desc' ? -1 : 1;
  const keyed = match.map((r) => ({ r, k: sortKey(r.v) }));
  keyed.sort((a, b) => {
    if (a.k == null || b.k == null) return compare(a.k, b.k) || compare(a.r.v.vin, b.r.v.vin);
    return sign * compare(a.k, b.k) || compare(a.r.v.vin, b.r.v.vin);
  });
  const pages = Math.max(1, Math.ceil(keyed.length / PAGE_SIZE));
  const page = Math.min(view.page, pages);
  const start = (page - 1) * PAGE_SIZE;
  return { matched: keyed.map((x) => x.r.v), page, pages, start, rows: keyed.slice(start, start + PAGE_SIZE).map((x) => x.r.v) };
}

const STATE_KEYS = STATES.map(([k]) => k);
const STATE_TESTS = STATES.map(([, , f]) => f);

/** How many rows each state filter would show (for the filter's labels); plain loops, as it runs over every row. */
export function stateCounts(rows) {
  const n = STATE_KEYS.map(() => 0);
  for (let i = 0; i < rows.length; i++) {
    const v = rows[i].v;
    for (let j = 0; j < STATE_TESTS.length; j++) if (STATE_TESTS[j](v)) n[j]++;
  }
  return Object.fromEntries(STATE_KEYS.map((k, j) => [k, n[j]]));
}
