import type { FleetListing, FleetHealth, FleetVehicle } from './fleet-listing.js';

/**
 * The terminal view of GET /api/fleet: a health line and one row per vehicle. Pure: the same body
 * and options give the same text, so the tests draw fixtures without a server or a terminal.
 */
export interface RenderOptions {
  /** Columns available; undefined: no limit (not a terminal). */
  width?: number;
  /** Vehicle rows at most (a terminal's height); the rest are counted on one line. */
  maxRows?: number;
  /** ANSI colours (only for a terminal, and not with NO_COLOR). */
  color: boolean;
}

type Tone = 'good' | 'warn' | 'bad' | 'dim' | 'head';
interface Cell {
  text: string;
  tone?: Tone;
}
interface Column {
  id: string;
  head: string;
  right?: boolean;
  cell(v: FleetVehicle, at: number): Cell;
}

const SGR: Record<Tone, string> = { good: '32', warn: '33', bad: '31', dim: '2', head: '1' };
const paint = (s: string, tone: Tone | undefined, color: boolean) => (color && tone ? `\x1b[${SGR[tone]}m${s}\x1b[0m` : s);

/** The narrowest the name column gets before columns are dropped. */
const NAME_MIN = 6;
const GAP = '  ';
const NONE = '-';

/**
 * Text from a vehicle (its name, a field's value) reaches the terminal: control characters and
 * bidirectional overrides could move the cursor or reorder the line, so each becomes "?".
 */
export function safeText(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '?');
}

const length = (s: string) => [...s].length;

/** `s` cut to `w` characters, an ellipsis marking the cut. */
function truncate(s: string, w: number): string {
  const chars = [...s];
  if (chars.length <= w) return s;
  return w <= 0 ? '' : chars.slice(0, w - 1).join('') + '…';
}

/** "42s", "5m 3s", "3h 5m", "2d 4h": two units at most, so columns stay narrow. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** How long before `at` the moment `then` was; a moment after `at` (another clock) is "just now". */
export function ago(then: number, at: number): string {
  return at - then < 1000 ? 'just now' : `${duration(at - then)} ago`;
}

/** A number with at most one decimal, anything else as compact text. */
export function valueText(v: unknown): string {
  if (v === null || v === undefined) return NONE;
  if (typeof v === 'number') return Number.isFinite(v) ? String(Math.round(v * 10) / 10) : String(v);
  if (typeof v === 'string') return safeText(v);
  return safeText(JSON.stringify(v));
}

/** Enum values as published ("ShiftStateD", "DetailedChargeStateCharging") shown by their last part. */
const enumText = (v: unknown, prefix: RegExp) => (typeof v === 'string' ? safeText(v.replace(prefix, '')) || NONE : valueText(v));
const quiet = (text: string): Cell => ({ text, tone: text === NONE ? 'dim' : undefined });

const COLUMNS: Column[] = [
  { id: 'vin', head: 'VIN', cell: (v) => ({ text: safeText(v.vin) }) },
  { id: 'name', head: 'NAME', cell: (v) => quiet(typeof v.name === 'string' && v.name ? safeText(v.name) : NONE) },
  {
    id: 'state',
    head: 'STATE',
    cell: (v, at) =>
      v.connected
        ? { text: 'connected', tone: 'good' }
        : { text: typeof v.since === 'number' ? `disconnected ${ago(v.since, at)}` : 'disconnected', tone: 'warn' },
  },
  {
    id: 'last',
    head: 'LAST FRAME',
    cell: (v, at) => (typeof v.last_frame_at === 'number' ? { text: ago(v.last_frame_at, at) } : { text: 'never', tone: 'dim' }),
  },
  { id: 'frames', head: 'FRAMES', right: true, cell: (v) => quiet(valueText(v.frames)) },
  { id: 'fields', head: 'FIELDS', right: true, cell: (v) => quiet(valueText(v.fields)) },
  { id: 'soc', head: 'SOC', right: true, cell: (v) => quiet(typeof v.key?.soc === 'number' ? `${valueText(v.key.soc)}%` : valueText(v.key?.soc)) },
  { id: 'speed', head: 'SPEED', right: true, cell: (v) => quiet(valueText(v.key?.speed)) },
  { id: 'gear', head: 'GEAR', cell: (v) => quiet(enumText(v.key?.gear, /^ShiftState/)) },
  { id: 'charging', head: 'CHARGING', cell: (v) => quiet(enumText(v.key?.charging, /^(DetailedChargeState|ChargeState)/)) },
  { id: 'trip', head: 'TRIP', right: true, cell: (v) => quiet(valueText(v.trip_score)) },
];

/** Columns given up, first to last, when the name column alone cannot make the table fit. */
const DROP_ORDER = ['trip', 'charging', 'fields', 'gear', 'frames', 'speed', 'soc', 'last'];

const num = (v: unknown) => (typeof v === 'number' ? valueText(v) : '?');

/** The health line's parts, each with its colour. */
function healthParts(h: Partial<FleetHealth>): Cell[] {
  const parts: Cell[] = [
    { text: `${num(h.vehicles_connected)}/${num(h.vehicles_known)} connected` },
    { text: `${num(h.frames_per_s)} frames/s` },
    { text: `${num(h.fields_per_s)} fields/s` },
    { text: `${num(h.frames_acked_total)} acked` },
    { text: `${num(h.frames_unanswered_total)} unanswered`, tone: (h.frames_unanswered_total ?? 0) > 0 ? 'warn' : undefined },
    { text: `${num(h.frames_error_total)} errors`, tone: (h.frames_error_total ?? 0) > 0 ? 'warn' : undefined },
    // null: no MQTT producer configured, so no broker to be connected to.
    h.broker_connected === false
      ? { text: 'broker disconnected', tone: 'bad' }
      : h.broker_connected === true
        ? { text: 'broker connected', tone: 'good' }
        : { text: 'no broker', tone: 'dim' },
    h.ready === false ? { text: 'not ready', tone: 'bad' } : { text: 'ready', tone: 'good' },
    { text: `${num(h.records_in_flight)} in flight` },
  ];
  if (typeof h.workers === 'number' && h.workers > 1) parts.push({ text: `${h.workers} workers` });
  return parts;
}

/** Parts joined with " · ", wrapped onto more lines rather than cut when the width is short. */
function joinWrapped(parts: Cell[], width: number | undefined, color: boolean): string[] {
  const lines: string[] = [];
  let plain = '';
  let shown = '';
  for (const p of parts) {
    if (plain && width !== undefined && length(`${plain} · ${p.text}`) > width) {
      lines.push(shown);
      plain = shown = '';
    }
    const sep = plain ? ' · ' : '';
    plain += sep + p.text;
    shown += sep + paint(p.text, p.tone, color);
  }
  if (plain) lines.push(shown);
  return lines;
}

/** Which columns to show and how wide, for the available width. */
function layout(rows: Cell[][], width: number | undefined): { keep: number[]; widths: number[] } {
  const widths = COLUMNS.map((c, i) => Math.max(length(c.head), ...rows.map((r) => length(r[i].text))));
  let keep = COLUMNS.map((_, i) => i);
  const total = () => keep.reduce((n, i) => n + widths[i], 0) + GAP.length * (keep.length - 1);
  if (width === undefined) return { keep, widths };
  const name = COLUMNS.findIndex((c) => c.id === 'name');
  const natural = widths[name];
  // The name gives way first; only when it is down to NAME_MIN do whole columns go.
  widths[name] = Math.min(NAME_MIN, natural);
  for (const id of DROP_ORDER) {
    if (total() <= width) break;
    keep = keep.filter((i) => COLUMNS[i].id !== id);
  }
  widths[name] = Math.max(widths[name], Math.min(natural, widths[name] + width - total()));
  return { keep, widths };
}

/**
 * `s` cut to `w` visible characters; colour sequences do not count, and a cut line ends with a
 * reset so the colour does not run on.
 */
export function fitWidth(s: string, w: number): string {
  const ESC = /^\x1b\[[0-9;]*m/;
  if (length(s.replace(/\x1b\[[0-9;]*m/g, '')) <= w) return s;
  let out = '';
  let seen = 0;
  for (let i = 0; i < s.length;) {
    const esc = ESC.exec(s.slice(i, i + 16));
    if (esc) {
      out += esc[0];
      i += esc[0].length;
      continue;
    }
    if (seen >= w - 1) break;
    const ch = String.fromCodePoint(s.codePointAt(i)!);
    out += ch;
    seen++;
    i += ch.length;
  }
  return w <= 0 ? '' : out + '…' + (s.includes('\x1b[') ? '\x1b[0m' : '');
}

const finish = (lines: string[], width: number | undefined) => (width === undefined ? lines : lines.map((l) => fitWidth(l, width))).join('\n') + '\n';

/** The whole view: health, a blank line, the table (lines end with "\n"). */
export function renderFleet(body: FleetListing, opts: RenderOptions): string {
  const { width, color } = opts;
  const out = joinWrapped(healthParts(body.health ?? {}), width, color);
  out.push('');
  const vehicles = body.vehicles;
  if (!vehicles.length) {
    out.push(paint('no vehicles seen since the server started', 'dim', color));
    return finish(out, width);
  }
  const rows = vehicles.map((v) => COLUMNS.map((c) => c.cell(v, body.at)));
  const { keep, widths } = layout(rows, width);
  const line = (cells: Cell[], tone?: Tone) => {
    const text = keep
      .map((i, k) => {
        const c = COLUMNS[i];
        const t = truncate(cells[i].text, widths[i]);
        const pad = ' '.repeat(widths[i] - length(t));
        // The last column is not padded on the right: no trailing blanks.
        const padded = c.right ? pad + t : k === keep.length - 1 ? t : t + pad;
        return paint(padded, tone ?? cells[i].tone, color);
      })
      .join(GAP);
    return text;
  };
  out.push(
    line(
      COLUMNS.map((c) => ({ text: c.head })),
      'head',
    ),
  );
  const limit = opts.maxRows !== undefined && vehicles.length > opts.maxRows ? Math.max(0, opts.maxRows - 1) : vehicles.length;
  for (const r of rows.slice(0, limit)) out.push(line(r));
  if (limit < vehicles.length) out.push(paint(`… ${vehicles.length - limit} more (--json lists every vehicle)`, 'dim', color));
  return finish(out, width);
}
