// Fleet page: pure formatting of values for the table, the plot and the detail.

/** Decimals shown per unit, so a column never mixes "60" and "52.6". */
const DECIMALS = { '%': 1, mph: 0, 'km/h': 0, mi: 0, km: 0 };

const formats = new Map();
function formatter(digits) {
  let f = formats.get(digits);
  if (!f) formats.set(digits, (f = new Intl.NumberFormat(undefined, { minimumFractionDigits: digits, maximumFractionDigits: digits })));
  return f;
}

/** A number with thousands separators and `digits` decimals; '–' for no number. */
export const num = (v, digits = 0) => (typeof v === 'number' && Number.isFinite(v) ? formatter(digits).format(v) : '–');

/** A number as its unit is shown (the unit itself goes in the column header). */
export const inUnit = (v, unit) => num(v, DECIMALS[unit] ?? 1);

/** A column header with its unit: "Speed (mph)". */
export const withUnit = (label, unit) => (unit ? `${label} (${unit})` : label);

export function ago(ms, now) {
  if (ms == null) return '–';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function clock(ms, now) {
  if (ms == null) return '–';
  const d = new Date(ms);
  return d.toDateString() === new Date(now).toDateString() ? d.toLocaleTimeString() : d.toLocaleString();
}

// Enum values are published with their type prefix ("ShiftStateD"); the short form reads better.
export const short = (v) => (v == null ? '–' : String(v).replace(/^(ShiftState|DetailedChargeState|ChargeState)/, '') || String(v));

/** What a charge state means for a person: "Disconnected" is the cable, not the car. */
const CHARGE_TEXT = {
  Disconnected: 'unplugged',
  NoPower: 'plugged in, no power',
  Starting: 'starting',
  Charging: 'charging',
  Complete: 'complete',
  Stopped: 'plugged in, stopped',
  Idle: 'idle',
  Unknown: 'unknown',
};
const chargeText = (v) => (v == null ? null : (CHARGE_TEXT[short(v)] ?? short(v)));

const CHARGING = new Set(['Charging', 'Starting'].flatMap((s) => [s, `DetailedChargeState${s}`, `ChargeState${s}`]));
/** Whether the car is taking charge now (or about to). */
export const isCharging = (v) => v.connected && !!v.key && CHARGING.has(v.key.charging);

/** The Charging cell: the cable's state for a connected car; for one that is offline, only that. */
export function chargingText(v) {
  if (!v.connected) return 'car offline';
  return chargeText(v.key && v.key.charging) ?? '–';
}

/** The last state an offline car reported, for the cell's title. */
export function chargingTitle(v) {
  const c = chargeText(v.key && v.key.charging);
  return v.connected || !c ? '' : `last reported: ${c}`;
}

export const total = (counts) => (counts ? counts.fault + counts.warning + counts.info : 0);

/** The worst severity with any count, or null. */
export const worst = (counts) => (!counts ? null : counts.fault ? 'fault' : counts.warning ? 'warning' : counts.info ? 'info' : null);

/** "1 fault, 2 warnings": each severity with a count, worst first; '' for none. */
export function countsText(counts) {
  if (!counts) return '';
  const parts = [];
  if (counts.fault) parts.push(`${counts.fault} fault${counts.fault > 1 ? 's' : ''}`);
  if (counts.warning) parts.push(`${counts.warning} warning${counts.warning > 1 ? 's' : ''}`);
  if (counts.info) parts.push(`${counts.info} info`);
  return parts.join(', ');
}

// Objects (Location, Doors...) as "key: value" pairs: readable, and they wrap at the spaces.
export const text = (v) =>
  v == null
    ? '–'
    : typeof v !== 'object'
      ? String(v)
      : Array.isArray(v)
        ? JSON.stringify(v)
        : Object.entries(v)
            .map(([k, x]) => `${k}: ${JSON.stringify(x)}`)
            .join(', ');
