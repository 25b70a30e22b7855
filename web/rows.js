// Fleet page: the rows of /api/events, sent in columns (docs/fleet-api.md), to the rows the page
// keeps ({vin, name, …, key: {soc, …, location: {lat, lon}}, alert_counts: {fault, warning, info}}).
// Pure functions.

const KEY_COLUMNS = new Set(['soc', 'speed', 'gear', 'charging', 'odometer', 'range', 'firmware']);
const counts = (c) => c && { fault: c[0], warning: c[1], info: c[2] };
const place = (c) => c && { lat: c[0], lon: c[1] };

/** Sets one column of a page row from its cell. */
export function setCell(v, column, cell) {
  if (column === 'location') v.key.location = place(cell);
  else if (column === 'alert_counts' || column === 'error_counts') v[column] = counts(cell);
  else if (KEY_COLUMNS.has(column)) v.key[column] = cell;
  else v[column] = cell;
}

/**
 * A reader of a full event's rows (each its cells in `columns` order) as page rows. Built once per
 * event: every row then takes the same shape in one step, for 10,000 rows at a time.
 */
export function rowReader(columns) {
  const i = (c) => columns.indexOf(c);
  const [vin, name, connected, since, last, frames, fields] = ['vin', 'name', 'connected', 'since', 'last_frame_at', 'frames', 'fields'].map(i);
  const [soc, speed, gear, charging, loc, odometer, range, firmware] = ['soc', 'speed', 'gear', 'charging', 'location', 'odometer', 'range', 'firmware'].map(i);
  const [trip, alerts, errors] = ['trip_score', 'alert_counts', 'error_counts'].map(i);
  // A column the server did not send reads as null (cells[-1] is undefined).
  const at = (cells, k) => cells[k] ?? null;
  return (cells) => ({
    vin: at(cells, vin),
    name: at(cells, name),
    connected: at(cells, connected),
    since: at(cells, since),
    last_frame_at: at(cells, last),
    frames: at(cells, frames),
    fields: at(cells, fields),
    key: {
      soc: at(cells, soc),
      speed: at(cells, speed),
      gear: at(cells, gear),
      charging: at(cells, charging),
      location: place(at(cells, loc)),
      odometer: at(cells, odometer),
      range: at(cells, range),
      firmware: at(cells, firmware),
    },
    trip_score: at(cells, trip),
    alert_counts: counts(at(cells, alerts)),
    error_counts: counts(at(cells, errors)),
  });
}

/** A delta's entry (`{vin, <column>: cell…}`) applied to the row the page has, or a new row. */
export function applyChange(v, change) {
  const out = v ? { ...v, key: { ...v.key } } : { key: {} };
  for (const column in change) setCell(out, column, change[column]);
  return out;
}
