// Fleet page: live view of the monitoring port's /api/events stream (contract: docs/fleet-api.md).
// Plain modules, no framework, no build step. Every value from a vehicle is written with
// textContent or setAttribute, never parsed as HTML, because VINs and names come from the cars.
import { ago, chargingText, chargingTitle, clock, countsText, inUnit, num, short, text, withUnit, worst } from './format.js';
import { drawPositions } from './plot.js';
import { applyChange, rowReader } from './rows.js';
import { applyView, PAGE_SIZE, queryOf, STATES, stateCounts, viewFromQuery } from './view.js';

const $ = (id) => document.getElementById(id);

/** [key, label, unit key or null, numeric]: the label doubles as the card caption on phones. */
const COLUMNS = [
  ['vehicle', 'Vehicle', null, false],
  ['status', 'Status', null, false],
  ['last', 'Last frame', null, false],
  ['alerts', 'Alerts', null, false],
  ['errors', 'Errors', null, false],
  ['soc', 'SoC', 'soc', true],
  ['range', 'Range', 'range', true],
  ['speed', 'Speed', 'speed', true],
  ['gear', 'Gear', null, false],
  ['charging', 'Charging', null, false],
  ['odometer', 'Odometer', 'odometer', true],
  ['firmware', 'Firmware', null, false],
  ['trip', 'Trip score', null, true],
];

// All page state lives here; the stream replaces entries, never appends, so it stays bounded.
const state = {
  vehicles: new Map(), // VIN -> { v: the row, text: searchText(v), made at the first search }
  units: {},
  health: null,
  skew: 0, // browser clock minus server clock, so "ago" texts use the server's time
  view: viewFromQuery(location.search),
  selected: null, // VIN shown in the detail panel
  detail: null, // /api/vehicles/<VIN> body for the selected VIN
  pool: [], // the table's row elements, reused for whichever vehicles the page shows
  source: null,
  pending: false,
  dirty: true, // rows, view or selection changed since the view was last worked out
  shown: null, // the last applyView result
  firstView: false,
};
const now = () => Date.now() - state.skew;

function el(tag, cls, content) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (content != null) e.textContent = content;
  return e;
}

// ---- health strip ----
function renderHealth() {
  const h = state.health;
  if (!h) return;
  $('h-vehicles').textContent = `${num(h.vehicles_connected)} / ${num(h.vehicles_known)}`;
  $('h-frames').textContent = num(h.frames_per_s, 1);
  $('h-fields').textContent = num(h.fields_per_s, 1);
  $('h-acks').textContent = `${num(h.frames_acked_total)} / ${num(h.frames_unanswered_total)}`;
  const broker = $('h-broker');
  broker.textContent = h.broker_connected ? 'connected' : 'disconnected';
  broker.className = `value ${h.broker_connected ? 'ok' : 'bad'}`;
  $('h-inflight').textContent = num(h.records_in_flight);
}

// ---- toolbar and headers: the view ----
function setView(change) {
  const v = { ...state.view, ...change };
  if (!('page' in change)) v.page = 1; // a new search, filter or sort starts at its first page
  state.view = v;
  state.dirty = true;
  history.replaceState(null, '', `${location.pathname}${queryOf(v)}${location.hash}`);
  schedule();
}

function buildHead() {
  const tr = $('vehicles').tHead.rows[0];
  tr.replaceChildren();
  for (const [key, label, , numeric] of COLUMNS) {
    const th = el('th', numeric ? 'num' : '');
    th.dataset.key = key;
    const b = el('button', 'sort');
    b.type = 'button';
    b.append(el('span', 'head-label', label), el('span', 'arrow'));
    b.addEventListener('click', () => setView({ sort: key, dir: state.view.sort === key && state.view.dir === 'asc' ? 'desc' : 'asc' }));
    th.append(b);
    tr.append(th);
  }
  const sort = $('sort');
  for (const [key, label] of COLUMNS) sort.append(new Option(label, key));
  for (const [key, label] of STATES) $('state').append(new Option(label, key));
  $('q').addEventListener('input', (e) => setView({ q: e.target.value }));
  $('state').addEventListener('change', (e) => setView({ state: e.target.value }));
  sort.addEventListener('change', (e) => setView({ sort: e.target.value }));
  $('dir').addEventListener('click', () => setView({ dir: state.view.dir === 'asc' ? 'desc' : 'asc' }));
  $('prev').addEventListener('click', () => setView({ page: Math.max(1, (state.shown ? state.shown.page : 1) - 1) }));
  $('next').addEventListener('click', () => setView({ page: (state.shown ? state.shown.page : 1) + 1 }));
}

function renderControls(shown, counts) {
  const v = state.view;
  if ($('q').value !== v.q && document.activeElement !== $('q')) $('q').value = v.q;
  $('state').value = v.state;
  for (const o of $('state').options) o.textContent = `${STATES.find(([k]) => k === o.value)[1]} (${num(counts[o.value])})`;
  $('sort').value = v.sort;
  $('dir').textContent = v.dir === 'asc' ? '↑ ascending' : '↓ descending';
  for (const th of $('vehicles').tHead.rows[0].cells) {
    const [, label, unitKey] = COLUMNS.find(([k]) => k === th.dataset.key);
    const full = withUnit(label, unitKey && state.units[unitKey]);
    labels.set(th.dataset.key, full);
    setText(th.querySelector('.head-label'), full);
    const on = th.dataset.key === v.sort;
    th.setAttribute('aria-sort', on ? (v.dir === 'asc' ? 'ascending' : 'descending') : 'none');
    th.querySelector('.arrow').textContent = on ? (v.dir === 'asc' ? ' ↑' : ' ↓') : '';
  }
  const n = shown.matched.length;
  $('range-text').textContent = n ? `${num(shown.start + 1)}–${num(shown.start + shown.rows.length)} of ${num(n)}` : 'none match';
  $('page-text').textContent = `page ${num(shown.page)} of ${num(shown.pages)}`;
  $('prev').disabled = shown.page <= 1;
  $('next').disabled = shown.page >= shown.pages;
}

// ---- vehicle table: a pool of PAGE_SIZE rows, filled with the page's vehicles ----
function cellValues(v) {
  const k = v.key || {};
  const u = state.units;
  return {
    status: v.connected ? 'connected' : 'disconnected',
    last: ago(v.last_frame_at, now()),
    alerts: countsText(v.alert_counts),
    errors: countsText(v.error_counts),
    soc: inUnit(k.soc, u.soc),
    range: inUnit(k.range, u.range),
    speed: inUnit(k.speed, u.speed),
    gear: short(k.gear),
    charging: chargingText(v),
    odometer: inUnit(k.odometer, u.odometer),
    firmware: k.firmware == null ? '–' : k.firmware.split(' ')[0], // "2025.20.3 4f1a2b": the build hash in the title
    trip: v.trip_score == null ? '' : num(v.trip_score),
  };
}

function makeRow() {
  const tr = el('tr');
  tr.tabIndex = 0;
  tr.addEventListener('click', () => select(tr.dataset.vin));
  tr.addEventListener('keydown', (e) => e.key === 'Enter' && select(tr.dataset.vin));
  const cells = {};
  for (const [key, label, , numeric] of COLUMNS) {
    const td = el('td', numeric ? 'num' : '');
    td.dataset.key = key;
    if (key !== 'vehicle') td.dataset.label = label;
    cells[key] = td;
    tr.append(td);
  }
  cells.vehicle.append(el('span', 'vin'), el('span', 'name'));
  return { tr, cells };
}

const setText = (e, s) => e.textContent !== s && (e.textContent = s);

/** Column captions with their units, for the cards on phones (no table header there). */
const labels = new Map();

function fillRow(row, v) {
  row.tr.dataset.vin = v.vin;
  setText(row.cells.vehicle.firstChild, v.vin);
  setText(row.cells.vehicle.lastChild, v.name ?? '');
  // Calm for a sleeping car; red is kept for faults.
  row.cells.status.className = `status ${v.connected ? 'on' : 'off'}`;
  row.cells.status.title = v.connected ? `connected since ${clock(v.since, now())}` : `since ${clock(v.since, now())}: asleep, or off the network`;
  row.cells.charging.title = chargingTitle(v);
  row.cells.firmware.title = (v.key && v.key.firmware) || '';
  row.cells.last.title = clock(v.last_frame_at, now());
  row.cells.alerts.className = `issues ${worst(v.alert_counts) ?? 'none'}`;
  row.cells.errors.className = `issues ${worst(v.error_counts) ?? 'none'}`;
  const values = cellValues(v);
  for (const key in values) {
    const td = row.cells[key];
    const label = labels.get(key);
    if (label && td.dataset.label !== label) td.dataset.label = label; // the card caption on phones, with its unit
    setText(td, values[key]);
    td.classList.toggle('blank', values[key] === '' || values[key] === '–');
  }
  row.cells.charging.classList.toggle('offline', !v.connected);
  row.tr.classList.toggle('fault', !!(v.alert_counts && v.alert_counts.fault));
  row.tr.classList.toggle('selected', v.vin === state.selected);
}

function renderTable(shown) {
  const tbody = $('vehicles').tBodies[0];
  while (state.pool.length < shown.rows.length) state.pool.push(makeRow());
  shown.rows.forEach((v, i) => {
    const row = state.pool[i];
    fillRow(row, v);
    if (tbody.children[i] !== row.tr) tbody.insertBefore(row.tr, tbody.children[i] ?? null);
  });
  while (tbody.children.length > shown.rows.length) tbody.lastChild.remove();
  let connected = 0;
  for (const { v } of state.vehicles.values()) if (v.connected) connected++;
  $('count').textContent = `${num(connected)} connected, ${num(state.vehicles.size)} seen`;
  $('empty').hidden = state.vehicles.size > 0;
  $('none').hidden = state.vehicles.size === 0 || shown.rows.length > 0;
}

// ---- detail panel ----
function renderDetail() {
  const panel = $('detail');
  panel.hidden = !state.selected;
  if (!state.selected) return;
  const d = state.detail && state.detail.vin === state.selected ? state.detail : null;
  const entry = state.vehicles.get(state.selected);
  const row = entry ? entry.v : d;
  const t = now();
  $('d-title').textContent = row && row.name ? `${row.name} · ${state.selected}` : state.selected;
  $('d-status').textContent = !row
    ? 'loading…'
    : `${row.connected ? 'connected' : `disconnected since ${clock(row.since, t)}`} · last frame ${ago(row.last_frame_at, t)} · ${num(row.frames)} frames, ${num(d ? d.fields_total : row.fields)} fields`;
  const list = (id, items, fmt, cls) => {
    const ul = $(id);
    ul.replaceChildren(...(items.length ? items.map((i) => el('li', cls ? cls(i) : '', fmt(i))) : [el('li', 'muted', d ? 'none' : '…')]));
  };
  list(
    'd-alerts',
    d ? d.alerts || [] : [],
    (a) =>
      `${a.name} · ${a.severity}${a.audiences && a.audiences.length ? ` (${a.audiences.join(', ')})` : ''} · started ${clock(a.started_at, t)}${a.ended_at ? ` · ended ${clock(a.ended_at, t)}` : ' · active'}`,
    (a) => (a.ended_at ? 'ended' : a.severity),
  );
  list('d-errors', d ? d.errors || [] : [], (e) => `${clock(e.at, t)} ${e.name}: ${e.body}`);
  const fields = d ? d.fields || [] : [];
  $('d-count').textContent = d ? `(${fields.length})` : '';
  $('d-fields').tBodies[0].replaceChildren(
    ...fields.map((f) => {
      const tr = el('tr');
      tr.dataset.field = f.name;
      const at = el('td', '', clock(f.at, t));
      at.title = ago(f.at, t);
      tr.append(el('td', '', f.name), el('td', '', text(f.value)), at);
      return tr;
    }),
  );
}

function render() {
  state.pending = false;
  const started = performance.now();
  renderHealth();
  if (!state.dirty && state.shown) {
    // Nothing new: only the relative times of the rows on screen move.
    renderTable(state.shown);
    renderDetail();
    return;
  }
  state.dirty = false;
  const all = [...state.vehicles.values()];
  const shown = applyView(all, state.view);
  state.shown = shown;
  renderControls(shown, stateCounts(all));
  renderTable(shown);
  const placed = drawPositions($('plot'), { all: shown.matched, shown: shown.rows, selected: state.selected, unit: state.units.odometer, onPick: select });
  $('map-count').textContent = `${num(placed)} with a location`;
  renderDetail();
  if (!state.firstView && state.source && state.health) {
    // Navigation start to the first table drawn from the server's data (read by the tests and bench/).
    state.firstView = true;
    performance.mark('fleet-first-view');
  }
  $('vehicles').dataset.renderMs = String(Math.round(performance.now() - started));
}
// Bursts of events cost one repaint.
function schedule() {
  if (!state.pending) {
    state.pending = true;
    requestAnimationFrame(render);
  }
}

// ---- live stream ----
function setLink(s, label) {
  $('link').dataset.state = s;
  $('link').textContent = label;
}

function onFleet(e) {
  const started = performance.now();
  const msg = JSON.parse(e.data);
  state.skew = Date.now() - msg.at;
  state.health = msg.health;
  if (msg.units) state.units = msg.units;
  if (msg.full) {
    // The whole truth (first event, or after a reconnect): what it lacks is dropped.
    state.vehicles = new Map();
    const rowOf = rowReader(msg.columns);
    for (const cells of msg.rows) {
      const v = rowOf(cells);
      state.vehicles.set(v.vin, { v, text: undefined });
    }
  } else {
    for (const change of msg.changed) {
      const had = state.vehicles.get(change.vin);
      state.vehicles.set(change.vin, { v: applyChange(had && had.v, change), text: 'name' in change ? undefined : had && had.text });
    }
    for (const vin of msg.removed) state.vehicles.delete(vin);
  }
  // A second with no changed row changes no order: only the times on screen move.
  if (msg.full || msg.changed.length || msg.removed.length) state.dirty = true;
  $('vehicles').dataset.applyMs = String(Math.round(performance.now() - started));
  // A full event is drawn at once, not at the next frame: it is what the page waits for.
  if (msg.full) render();
  else schedule();
}

function onVehicle(e) {
  const d = JSON.parse(e.data);
  if (d.vin !== state.selected) return;
  // Only the detail: its `fields` is the field list, not the row's count, so the table keeps
  // taking its rows from fleet events.
  state.detail = d;
  schedule();
}

// One stream at a time: with a vehicle selected, the same stream also carries its detail.
function connect() {
  if (state.source) state.source.close();
  const url = state.selected ? `/api/events?vin=${encodeURIComponent(state.selected)}` : '/api/events';
  const es = new EventSource(url);
  state.source = es;
  setLink('connecting', 'connecting…');
  es.addEventListener('open', () => setLink('live', 'live'));
  es.addEventListener('fleet', onFleet);
  es.addEventListener('vehicle', onVehicle);
  es.addEventListener('error', () => {
    if (es !== state.source) return;
    setLink('down', 'reconnecting…');
    // EventSource retries by itself, except after an HTTP error (e.g. 503 when too many
    // streams are open): then it is closed for good and we try again later.
    if (es.readyState === EventSource.CLOSED) setTimeout(() => es === state.source && connect(), 5000);
  });
}

function select(vin) {
  if (vin === state.selected) return;
  state.selected = vin;
  state.detail = null;
  state.dirty = true;
  history.replaceState(null, '', `${location.pathname}${location.search}${vin ? `#vin=${encodeURIComponent(vin)}` : ''}`);
  connect();
  schedule();
  // Below the wide layout the detail sits under the table: brought into view.
  if (vin && window.matchMedia('(max-width: 1499px)').matches) {
    $('detail').hidden = false; // shown now so the phone can scroll to it
    $('detail').scrollIntoView();
  }
}

$('d-close').addEventListener('click', () => select(null));
buildHead();
const fromHash = /^#vin=(.+)$/.exec(location.hash);
state.selected = fromHash ? decodeURIComponent(fromHash[1]) : null;
$('page-size').textContent = `${PAGE_SIZE} a page`;
connect();
// Relative times ("12 s ago") move even when no event arrives.
setInterval(schedule, 1000);
schedule();
