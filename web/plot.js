// Fleet page: positions drawn in plain SVG with a graticule (lines of latitude and longitude,
// labelled) and a scale bar. No map tiles: nothing is fetched from anywhere.
const SVG = 'http://www.w3.org/2000/svg';
export const W = 400,
  H = 300;
const PAD = 22;
const M_PER_DEG_LAT = 111_195; // mean metres per degree of latitude
const M_PER_UNIT = { mi: 1609.344, km: 1000 };
const STEPS = [1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30];

function node(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text != null) e.textContent = text;
  return e;
}

/** The smallest step giving at most `max` lines across `span` degrees. */
export function gridStep(span, max = 5) {
  return STEPS.find((s) => span / s <= max) ?? 30;
}

/** The largest 1-2-5 distance not longer than `limit` (in the same unit). */
export function niceDistance(limit) {
  const p = 10 ** Math.floor(Math.log10(limit));
  return [5, 2, 1].map((m) => m * p).find((d) => d <= limit) ?? p;
}

const decimals = (step) => Math.max(0, Math.ceil(-Math.log10(step) - 1e-9));
const latLabel = (v, d) => `${Math.abs(v).toFixed(d)}°${v < 0 ? 'S' : 'N'}`;
const lonLabel = (v, d) => `${Math.abs(v).toFixed(d)}°${v < 0 ? 'W' : 'E'}`;

/** The box around the points and its projection to the SVG's coordinates (distances kept true). */
export function frame(points) {
  let minLat = Infinity,
    maxLat = -Infinity,
    minLon = Infinity,
    maxLon = -Infinity;
  for (const p of points) {
    if (p.lat < minLat) minLat = p.lat;
    if (p.lat > maxLat) maxLat = p.lat;
    if (p.lon < minLon) minLon = p.lon;
    if (p.lon > maxLon) maxLon = p.lon;
  }
  // A single car (or cars in one spot) still gets a box about 1 km wide.
  if (maxLat - minLat < 0.01) [minLat, maxLat] = [(minLat + maxLat) / 2 - 0.005, (minLat + maxLat) / 2 + 0.005];
  if (maxLon - minLon < 0.01) [minLon, maxLon] = [(minLon + maxLon) / 2 - 0.005, (minLon + maxLon) / 2 + 0.005];
  // Longitude degrees shrink with latitude: scaled so distances look right.
  const kx = Math.cos((((minLat + maxLat) / 2) * Math.PI) / 180);
  const scale = Math.min((W - 2 * PAD) / ((maxLon - minLon) * kx), (H - 2 * PAD) / (maxLat - minLat)); // px per degree of latitude
  const ox = (W - (maxLon - minLon) * kx * scale) / 2,
    oy = (H - (maxLat - minLat) * scale) / 2;
  // The whole drawing area in degrees, for the graticule.
  const west = minLon - ox / (kx * scale),
    east = minLon + (W - ox) / (kx * scale);
  const north = maxLat + oy / scale,
    south = maxLat - (H - oy) / scale;
  return {
    project: (lat, lon) => [ox + (lon - minLon) * kx * scale, oy + (maxLat - lat) * scale],
    pxPerMetre: scale / M_PER_DEG_LAT,
    west,
    east,
    north,
    south,
  };
}

function graticule(svg, f) {
  const step = gridStep(Math.max(f.east - f.west, f.north - f.south));
  const d = decimals(step);
  const g = node('g', { class: 'graticule' });
  // Counted in whole steps: adding steps up would drift off the round values.
  for (let i = Math.ceil(f.south / step); i * step <= f.north; i++) {
    const lat = i * step;
    const [, y] = f.project(lat, f.west);
    g.append(
      node('line', { x1: 0, x2: W, y1: y.toFixed(1), y2: y.toFixed(1) }),
      node('text', { x: 3, y: (y - 2).toFixed(1), class: 'grid-label lat' }, latLabel(lat, d)),
    );
  }
  for (let i = Math.ceil(f.west / step); i * step <= f.east; i++) {
    const lon = i * step;
    const [x] = f.project(f.south, lon);
    g.append(
      node('line', { x1: x.toFixed(1), x2: x.toFixed(1), y1: 0, y2: H }),
      node('text', { x: (x + 2).toFixed(1), y: H - 3, class: 'grid-label lon' }, lonLabel(lon, d)),
    );
  }
  svg.append(g);
}

function scaleBar(svg, f, unit) {
  const u = M_PER_UNIT[unit] ? unit : 'km';
  const pxPerUnit = f.pxPerMetre * M_PER_UNIT[u];
  const dist = niceDistance((W * 0.3) / pxPerUnit);
  const len = dist * pxPerUnit;
  const x = W - 12 - len,
    y = 16;
  const g = node('g', { class: 'scale-bar' });
  g.append(
    node('rect', { x: x - 4, y: y - 11, width: len + 8, height: 17, rx: 2 }),
    node('path', { d: `M${x.toFixed(1)} ${y - 4}v4h${len.toFixed(1)}v-4` }),
    node('text', { x: (x + len / 2).toFixed(1), y: y - 3, 'text-anchor': 'middle' }, `${dist.toLocaleString()} ${u}`),
  );
  svg.append(g);
}

/**
 * Draws `all` (the rows the search and filter match) as small dots, two paths whatever their
 * number, and `shown` (the table's page) as circles one can click. Returns how many had a position.
 */
export function drawPositions(svg, { all, shown, selected, unit, onPick }) {
  const located = (v) => v.key && v.key.location && Number.isFinite(v.key.location.lat) && Number.isFinite(v.key.location.lon);
  const placed = all.filter(located);
  svg.replaceChildren();
  if (!placed.length) {
    svg.append(node('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'axis' }, 'No vehicle has reported a location yet'));
    return 0;
  }
  const f = frame(placed.map((v) => v.key.location));
  graticule(svg, f);
  const dots = { on: '', off: '' };
  // Math.round, not toFixed: cheaper over 10,000 dots.
  const tenth = (n) => Math.round(n * 10) / 10;
  for (const v of placed) {
    const [x, y] = f.project(v.key.location.lat, v.key.location.lon);
    dots[v.connected ? 'on' : 'off'] += `M${tenth(x)} ${tenth(y)}h0`;
  }
  for (const k of ['off', 'on']) if (dots[k]) svg.append(node('path', { class: `dots ${k}`, d: dots[k] }));
  for (const v of shown.filter(located)) {
    const [x, y] = f.project(v.key.location.lat, v.key.location.lon);
    const c = node('circle', {
      cx: x.toFixed(1),
      cy: y.toFixed(1),
      r: 5,
      class: `${v.connected ? 'on' : 'off'}${v.vin === selected ? ' selected' : ''}`,
      'data-vin': v.vin,
    });
    c.append(node('title', {}, `${v.name ? v.name + ' · ' : ''}${v.vin}`));
    c.addEventListener('click', () => onPick(v.vin));
    svg.append(c);
    if (v.vin === selected) {
      const right = x > W * 0.6; // a label near the right edge goes left of the dot
      const name = v.name || v.vin.slice(-6);
      svg.append(
        node(
          'text',
          { x: (right ? x - 8 : x + 8).toFixed(1), y: (y + 3).toFixed(1), 'text-anchor': right ? 'end' : 'start', class: 'pick' },
          name.length > 24 ? `${name.slice(0, 23)}…` : name,
        ),
      );
    }
  }
  scaleBar(svg, f, unit);
  return placed.length;
}
