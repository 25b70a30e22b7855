// Fleet page: live view of the monitoring port's /api/events stream (contract: docs of /api/fleet).
// Plain script, no framework, no build step. Every value from a vehicle is written with
// textContent or setAttribute, never parsed as HTML, because VINs and names come from the cars.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const COLUMNS = [
    // [key, label, numeric]: the label doubles as the card caption on phones.
    ['vehicle', 'Vehicle', false], ['status', 'Status', false], ['last', 'Last frame', false],
    ['frames', 'Frames', true], ['fields', 'Fields', true], ['soc', 'SoC', true], ['speed', 'Speed', true],
    ['gear', 'Gear', false], ['charging', 'Charging', false], ['trip', 'Trip score', true],
  ];
  const SVG = 'http://www.w3.org/2000/svg';

  // All page state lives here; the stream replaces entries, never appends, so it stays bounded.
  const state = {
    vehicles: new Map(), // VIN -> row from /api/fleet
    health: null,
    skew: 0, // browser clock minus server clock, so "ago" texts use the server's time
    selected: null, // VIN shown in the detail panel
    detail: null, // /api/vehicles/<VIN> body for the selected VIN
    rows: new Map(), // VIN -> { tr, cells } of the table, reused across updates
    source: null,
    pending: false,
  };

  // ---- formatting (pure) ----
  const now = () => Date.now() - state.skew;
  function ago(ms) {
    if (ms == null) return '–';
    const s = Math.max(0, Math.round((now() - ms) / 1000));
    if (s < 60) return `${s} s ago`;
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min ago`;
    return `${Math.floor(s / 86400)} d ago`;
  }
  function clock(ms) {
    if (ms == null) return '–';
    const d = new Date(ms);
    const sameDay = d.toDateString() === new Date(now()).toDateString();
    return sameDay ? d.toLocaleTimeString() : d.toLocaleString();
  }
  const num = (v, digits = 0) => (typeof v === 'number' && Number.isFinite(v) ? v.toLocaleString(undefined, { maximumFractionDigits: digits }) : '–');
  // Enum values are published with their type prefix ("ShiftStateD"); the short form reads better.
  const short = (v) => (v == null ? '–' : String(v).replace(/^(ShiftState|DetailedChargeState|ChargeState)/, '') || String(v));
  // Objects (Location, Doors...) as "key: value" pairs: readable, and they wrap at the spaces.
  const text = (v) =>
    v == null ? '–' : typeof v !== 'object' ? String(v) : Array.isArray(v) ? JSON.stringify(v) : Object.entries(v).map(([k, x]) => `${k}: ${JSON.stringify(x)}`).join(', ');

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

  // ---- vehicle table ----
  function cellValues(v) {
    const k = v.key || {};
    return {
      status: v.connected ? 'connected' : `disconnected since ${clock(v.since)}`,
      last: ago(v.last_frame_at),
      frames: num(v.frames),
      fields: num(v.fields),
      soc: k.soc == null ? '–' : `${num(k.soc, 1)} %`,
      speed: num(k.speed, 1),
      gear: short(k.gear),
      charging: short(k.charging),
      trip: v.trip_score == null ? '' : num(v.trip_score),
    };
  }

  function makeRow(vin) {
    const tr = el('tr');
    tr.dataset.vin = vin;
    tr.tabIndex = 0;
    tr.addEventListener('click', () => select(vin));
    tr.addEventListener('keydown', (e) => e.key === 'Enter' && select(vin));
    const cells = {};
    for (const [key, label, numeric] of COLUMNS) {
      const td = el('td', numeric ? 'num' : '');
      td.dataset.key = key;
      if (key !== 'vehicle') td.dataset.label = label;
      cells[key] = td;
      tr.append(td);
    }
    cells.vehicle.append(el('span', 'vin', vin), el('span', 'name'));
    return { tr, cells };
  }

  function renderTable() {
    const tbody = $('vehicles').tBodies[0];
    let reorder = false;
    for (const [vin, row] of state.rows) {
      if (!state.vehicles.has(vin)) {
        row.tr.remove();
        state.rows.delete(vin);
      }
    }
    for (const [vin, v] of state.vehicles) {
      let row = state.rows.get(vin);
      if (!row) {
        row = makeRow(vin);
        state.rows.set(vin, row);
        reorder = true;
      }
      row.cells.vehicle.lastChild.textContent = v.name ?? '';
      const values = cellValues(v);
      for (const key in values) {
        const td = row.cells[key];
        if (td.textContent !== values[key]) td.textContent = values[key];
        td.classList.toggle('blank', values[key] === '' || values[key] === '–');
      }
      row.cells.status.className = `status ${v.connected ? 'on' : 'off'}`;
      row.cells.status.title = v.connected ? `connected since ${clock(v.since)}` : ago(v.since);
      row.cells.last.title = clock(v.last_frame_at);
      row.tr.classList.toggle('selected', vin === state.selected);
    }
    if (reorder) {
      // New VIN: put rows back in VIN order (appending an existing node moves it).
      for (const vin of [...state.rows.keys()].sort()) tbody.append(state.rows.get(vin).tr);
    }
    const connected = [...state.vehicles.values()].filter((v) => v.connected).length;
    $('count').textContent = `${connected} connected, ${state.vehicles.size} seen`;
    $('empty').hidden = state.vehicles.size > 0;
  }

  // ---- position plot: the vehicles' bounding box, no map tiles ----
  function renderPlot() {
    const svg = $('plot');
    const W = 400, H = 300, PAD = 24;
    const placed = [...state.vehicles.values()].filter((v) => v.key && v.key.location && Number.isFinite(v.key.location.lat) && Number.isFinite(v.key.location.lon));
    svg.replaceChildren();
    $('map-count').textContent = `${placed.length} with a location`;
    if (placed.length === 0) {
      const t = document.createElementNS(SVG, 'text');
      t.setAttribute('x', W / 2);
      t.setAttribute('y', H / 2);
      t.setAttribute('text-anchor', 'middle');
      t.classList.add('axis');
      t.textContent = 'No vehicle has reported a location yet';
      svg.append(t);
      return;
    }
    const lats = placed.map((v) => v.key.location.lat), lons = placed.map((v) => v.key.location.lon);
    let [minLat, maxLat, minLon, maxLon] = [Math.min(...lats), Math.max(...lats), Math.min(...lons), Math.max(...lons)];
    // A single car (or cars in one spot) still gets a box about 1 km wide.
    if (maxLat - minLat < 0.01) { minLat -= 0.005; maxLat += 0.005; }
    if (maxLon - minLon < 0.01) { minLon -= 0.005; maxLon += 0.005; }
    // Longitude degrees shrink with latitude: scale them so distances look right.
    const kx = Math.cos((((minLat + maxLat) / 2) * Math.PI) / 180);
    const spanX = (maxLon - minLon) * kx, spanY = maxLat - minLat;
    const scale = Math.min((W - 2 * PAD) / spanX, (H - 2 * PAD) / spanY);
    const ox = (W - spanX * scale) / 2, oy = (H - spanY * scale) / 2;
    const project = (lat, lon) => [ox + (lon - minLon) * kx * scale, oy + (maxLat - lat) * scale];
    const corner = (x, y, anchor, label) => {
      const t = document.createElementNS(SVG, 'text');
      t.setAttribute('x', x);
      t.setAttribute('y', y);
      t.setAttribute('text-anchor', anchor);
      t.classList.add('axis');
      t.textContent = label;
      svg.append(t);
    };
    corner(4, 10, 'start', `${maxLat.toFixed(4)}, ${minLon.toFixed(4)}`);
    corner(W - 4, H - 4, 'end', `${minLat.toFixed(4)}, ${maxLon.toFixed(4)}`);
    for (const v of placed) {
      const [x, y] = project(v.key.location.lat, v.key.location.lon);
      const c = document.createElementNS(SVG, 'circle');
      c.setAttribute('cx', x.toFixed(1));
      c.setAttribute('cy', y.toFixed(1));
      c.setAttribute('r', 6);
      c.setAttribute('class', `${v.connected ? 'on' : 'off'}${v.vin === state.selected ? ' selected' : ''}`);
      c.dataset.vin = v.vin;
      const tip = document.createElementNS(SVG, 'title');
      tip.textContent = `${v.name ? v.name + ' · ' : ''}${v.vin}`;
      c.append(tip);
      c.addEventListener('click', () => select(v.vin));
      const label = document.createElementNS(SVG, 'text');
      const right = x > W * 0.6; // labels near the right edge go left of the dot, inside the box
      label.setAttribute('x', (right ? x - 9 : x + 9).toFixed(1));
      label.setAttribute('y', (y + 3).toFixed(1));
      label.setAttribute('text-anchor', right ? 'end' : 'start');
      const name = v.name || v.vin.slice(-6);
      label.textContent = name.length > 24 ? `${name.slice(0, 23)}…` : name;
      svg.append(c, label);
    }
  }

  // ---- detail panel ----
  function renderDetail() {
    const panel = $('detail');
    panel.hidden = !state.selected;
    if (!state.selected) return;
    const d = state.detail && state.detail.vin === state.selected ? state.detail : null;
    const row = state.vehicles.get(state.selected) || d;
    $('d-title').textContent = row && row.name ? `${row.name} · ${state.selected}` : state.selected;
    $('d-status').textContent = !row
      ? 'loading…'
      : `${row.connected ? 'connected' : `disconnected since ${clock(row.since)}`} · last frame ${ago(row.last_frame_at)} · ${num(row.frames)} frames, ${num(row.fields)} fields`;
    const list = (id, items, fmt) => {
      const ul = $(id);
      ul.replaceChildren(...(items.length ? items.map((i) => el('li', '', fmt(i))) : [el('li', 'muted', d ? 'none' : '…')]));
    };
    list('d-alerts', d ? d.alerts || [] : [], (a) => `${a.name}${a.audiences && a.audiences.length ? ` (${a.audiences.join(', ')})` : ''} · started ${clock(a.started_at)}${a.ended_at ? ` · ended ${clock(a.ended_at)}` : ' · active'}`);
    list('d-errors', d ? d.errors || [] : [], (e) => `${clock(e.at)} ${e.name}: ${e.body}`);
    const fields = d ? d.fields || [] : [];
    $('d-count').textContent = d ? `(${fields.length})` : '';
    $('d-fields').tBodies[0].replaceChildren(
      ...fields.map((f) => {
        const tr = el('tr');
        tr.dataset.field = f.name;
        const at = el('td', '', clock(f.at));
        at.title = ago(f.at);
        tr.append(el('td', '', f.name), el('td', '', text(f.value)), at);
        return tr;
      }),
    );
  }

  function render() {
    state.pending = false;
    renderHealth();
    renderTable();
    renderPlot();
    renderDetail();
  }
  // Bursts of events cost one repaint.
  const schedule = () => {
    if (!state.pending) {
      state.pending = true;
      requestAnimationFrame(render);
    }
  };

  // ---- live stream ----
  function setLink(s, label) {
    $('link').dataset.state = s;
    $('link').textContent = label;
  }

  function onFleet(e) {
    const msg = JSON.parse(e.data);
    state.skew = Date.now() - msg.at;
    state.health = msg.health;
    // A full event is the whole truth (first event, or after a reconnect): drop what it lacks.
    if (msg.full) state.vehicles = new Map();
    for (const v of msg.vehicles) state.vehicles.set(v.vin, v);
    schedule();
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
    history.replaceState(null, '', vin ? `#vin=${encodeURIComponent(vin)}` : location.pathname);
    connect();
    schedule();
    if (vin && window.matchMedia('(max-width: 760px)').matches) {
      $('detail').hidden = false; // shown now so the phone can scroll to it
      $('detail').scrollIntoView();
    }
  }

  $('d-close').addEventListener('click', () => select(null));
  const fromHash = /^#vin=(.+)$/.exec(location.hash);
  state.selected = fromHash ? decodeURIComponent(fromHash[1]) : null;
  connect();
  // Relative times ("12 s ago") move even when no event arrives.
  setInterval(schedule, 1000);
  schedule();
})();
