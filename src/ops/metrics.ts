import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { MqttLink } from '../producers/mqtt/link.js';
import { isTallied, type TalliedProducer } from '../producers/dispatch/tally.js';
import type { Producer } from '../producers/types.js';
import { readinessOf, type Readiness } from './readiness.js';
import { TallyHistogram } from './tally-histogram.js';
import type { ServerEvents } from '../server/events.js';
import type { FrameOutcome, VehicleSession } from '../server/session.js';
import type { VehicleRecord } from '../record/types.js';
import type { FleetStore } from './fleet/store.js';
import type { FleetTotals } from './fleet/types.js';
import { distinctVins, vehiclesConnectedGauge } from './presence-metrics.js';
import { oneRowPerVehicle } from './vehicle-rows.js';
import {
  FRAME_OUTCOMES,
  KNOWN_REASONS,
  LATENCY_BUCKETS,
  MAX_REASONS,
  METRIC_PREFIX,
  OUTCOME_COUNT as NO,
  OUTCOME_INDEX,
  RECORD_TYPE_LABELS,
  typeIndex,
} from './metric-labels.js';

const P = METRIC_PREFIX;

type Row = [Record<string, string>, number];

interface VinTotals {
  frames: number;
  fields: number;
  lastFrameAt: number;
}

export interface MetricsOptions {
  producers: Map<string, Producer>;
  /** vins_signal_tracking_enabled: the only VINs that get a label. */
  trackedVins?: readonly string[];
  /** Whether records can be acked at all (false while shutting down). */
  accepting?: () => boolean;
  /** The fleet view's store, fed from the same events. */
  fleet?: FleetStore;
}

export type { Readiness };

/** A connected vehicle as /vehicles shows it. */
export interface VehicleView {
  vin: string;
  connection_id: string;
  connected_since: string;
  connected_seconds: number;
  client_version: string;
  network_interface: string;
  frames: number;
  fields: number;
  last_frame_at: string | null;
  /** Connections of the vehicle open now (an old one may linger after a reconnect). */
  connections?: number;
}

/**
 * The server's metrics and the set of connected vehicles. The event methods run on the per-frame
 * path, so they only bump plain numbers; everything is turned into prom-client metrics when
 * /metrics is scraped (collect callbacks).
 */
export class ServerMetrics implements ServerEvents {
  readonly registry = new Registry();
  readonly sessions = new Set<VehicleSession>();
  private readonly frames = new Float64Array(RECORD_TYPE_LABELS.length * NO);
  private readonly fields = new Float64Array(RECORD_TYPE_LABELS.length);
  private bytes = 0;
  private inFlight = 0;
  private connections = 0;
  private rateLimitWaits = 0;
  private olderClosed = 0;
  private senderMismatches = 0;
  private readonly handshakeFailures = new Map<string, number>();
  private resendsJoined = 0;
  private readonly admissionWaits = { vehicle: 0, server: 0 };
  private readonly logsSuppressed = new Map<string, number>();
  private readonly failures = new Map<string, Map<string, number>>();
  private readonly reasons = new Set<string>(KNOWN_REASONS);
  private readonly publish: TallyHistogram;
  private readonly ack: TallyHistogram;
  /** Totals of the tracked VINs' finished connections; live ones are added at scrape time. */
  private readonly tracked = new Map<string, VinTotals>();
  private readonly producers: Map<string, Producer>;
  private readonly accepting: () => boolean;
  readonly fleet?: FleetStore;

  constructor(opts: MetricsOptions) {
    this.fleet = opts.fleet;
    this.producers = opts.producers;
    this.accepting = opts.accepting ?? (() => true);
    for (const vin of opts.trackedVins ?? []) this.tracked.set(vin, { frames: 0, fields: 0, lastFrameAt: 0 });
    collectDefaultMetrics({ register: this.registry, prefix: P });

    const frames = this.frames;
    this.counter(
      'frames_received_total',
      'Frames from vehicles by record type and outcome, counted once each frame is answered (or left unanswered).',
      ['record_type', 'outcome'],
      function* () {
        for (let t = 0; t < RECORD_TYPE_LABELS.length; t++) {
          for (let o = 0; o < NO; o++) {
            const v = frames[t * NO + o];
            if (v) yield [{ record_type: RECORD_TYPE_LABELS[t], outcome: FRAME_OUTCOMES[o] }, v];
          }
        }
      },
    );
    const fields = this.fields;
    this.counter(
      'fields_published_total',
      'Fields of acked records by record type: datums of V records, one per record otherwise.',
      ['record_type'],
      function* () {
        for (let t = 0; t < RECORD_TYPE_LABELS.length; t++) if (fields[t]) yield [{ record_type: RECORD_TYPE_LABELS[t] }, fields[t]];
      },
    );
    const one = (v: () => number) => () => [[{}, v()] as Row];
    this.counter(
      'received_bytes_total',
      'Bytes of every frame received from vehicles.',
      [],
      one(() => this.bytes),
    );
    this.counter(
      'rate_limit_waits_total',
      'Times a connection had to wait for the rate-limit window before its next frame (frames are delayed, never dropped).',
      [],
      one(() => this.rateLimitWaits),
    );
    this.counter(
      'sender_mismatch_frames_total',
      'Frames whose sender_id names another vehicle than the certificate (the certificate VIN is used).',
      [],
      one(() => this.senderMismatches),
    );
    this.counter(
      'resends_joined_total',
      'Resent frames that joined their original, still being published, instead of publishing every field again (answered when it settles).',
      [],
      one(() => this.resendsJoined),
    );
    const handshakes = this.handshakeFailures;
    this.counter(
      'tls_handshake_failures_total',
      'Vehicle TLS handshakes that failed, by reason (no_certificate, untrusted, expired, protocol_version, closed_early, …).',
      ['reason'],
      function* () {
        for (const [reason, v] of handshakes) yield [{ reason }, v];
      },
    );
    const waits = this.admissionWaits;
    this.counter(
      'admission_waits_total',
      'Times a connection stopped reading to wait for admission: at its own bound of records in flight (bound="vehicle"), or while the server or a producer had no room (bound="server"). Frames wait, never dropped.',
      ['bound'],
      function* () {
        for (const bound of ['vehicle', 'server'] as const) yield [{ bound }, waits[bound]];
      },
    );
    const suppressed = this.logsSuppressed;
    this.counter(
      'log_lines_suppressed_total',
      'Log lines about vehicles left out by the log limits, by event (the counters of frames keep the exact numbers).',
      ['event'],
      function* () {
        for (const [event, n] of suppressed) yield [{ event }, n];
      },
    );
    this.counter(
      'vehicle_connections_total',
      'Vehicle connections accepted (after mTLS and the WebSocket upgrade).',
      [],
      one(() => this.connections),
    );
    vehiclesConnectedGauge(this.registry, () => distinctVins(this.sessions));
    this.gauge(
      'vehicle_connections_open',
      'Vehicle connections open now (a vehicle whose old connection lingers has two).',
      [],
      one(() => this.sessions.size),
    );
    this.counter(
      'older_connections_closed_total',
      'Older connections of a vehicle closed after presence.close_older_after_ms, once a newer connection of it handled a frame (a reconnect whose old connection lingered).',
      [],
      one(() => this.olderClosed),
    );
    this.gauge(
      'records_in_flight',
      'Records handed to producers and not yet settled.',
      [],
      one(() => this.inFlight),
    );

    this.publish = this.histogram(
      'publish_duration_seconds',
      'Time from handing a record to its producers until every one took it (MQTT: every publish acknowledged by the broker).',
    );
    this.ack = this.histogram(
      'ack_duration_seconds',
      "Time from a frame's arrival until its ack was sent, waiting behind the rate limit or the in-flight bound included.",
    );

    const failures = this.failures;
    this.counter(
      'producer_failures_total',
      'Records a producer did not take (the frame goes unacked and the vehicle resends), by producer and reason.',
      ['producer', 'reason'],
      function* () {
        for (const [producer, byReason] of failures) for (const [reason, v] of byReason) yield [{ producer, reason }, v];
      },
    );
    const producers = this.producers;
    this.gauge(
      'producer_ready',
      'Whether a producer can take records now (1) or not (0).',
      ['producer'],
      function* () {
        for (const [producer, p] of producers) yield [{ producer }, p.ready?.() === false ? 0 : 1];
      },
      'min',
    );
    const links = function* (value: (l: MqttLink) => number): Generator<Row> {
      for (const [producer, p] of producers) {
        const link = (p as { link?: unknown }).link;
        if (link instanceof MqttLink) yield [{ producer }, value(link)];
      }
    };
    this.gauge(
      'broker_connected',
      'Whether the MQTT producer is connected to its broker (1) or not (0).',
      ['producer'],
      () => links((l) => (l.connected ? 1 : 0)),
      'min',
    );
    this.counter(
      'broker_reconnects_total',
      'Connection attempts to the MQTT broker after the first one (after a loss or a failed attempt).',
      ['producer'],
      () => links((l) => l.reconnects),
    );
    this.gauge('broker_publishes_in_flight', 'MQTT publishes sent and not yet acknowledged by the broker.', ['producer'], () => links((l) => l.inFlight()));
    this.gauge(
      'broker_admission_window',
      'Publishes the MQTT producer takes on at once: grows while the broker keeps up, halves when its acknowledgements slow down.',
      ['producer'],
      () => links((l) => l.admissionLimit().limit),
    );
    this.gauge(
      'broker_publish_deadline_seconds',
      "A record's deadline now: publish_timeout_ms, longer while the broker is slower (up to publish_timeout_max_ms).",
      ['producer'],
      () => links((l) => l.admissionLimit().deadlineMs / 1000),
    );
    this.counter(
      'broker_records_overdue_total',
      'Records answered "not yet" at their deadline while their publishes stayed in flight (a late acknowledgement completes them; a resend is answered by them).',
      ['producer'],
      () => links((l) => l.overdue()),
    );

    // Tesla-compatible producers (kafka, kinesis, redis, zmq): one set of series, by producer.
    const tallied = function* (rows: (name: string, p: TalliedProducer) => Iterable<Row>): Generator<Row> {
      for (const [producer, p] of producers) if (isTallied(p)) yield* rows(producer, p);
    };
    const byType = (pick: (p: TalliedProducer) => Map<string, number>) => () =>
      tallied(function* (producer, p) {
        for (const [record_type, v] of pick(p)) yield [{ producer, record_type }, v];
      });
    this.counter(
      'dispatch_sent_total',
      'Messages a Tesla-compatible producer had confirmed (redis: PUBLISH answered; zmq: taken by the socket), by producer and record type.',
      ['producer', 'record_type'],
      byType((p) => p.tally.sent),
    );
    this.counter(
      'dispatch_sent_bytes_total',
      'Bytes of the values of those messages, by producer and record type.',
      ['producer', 'record_type'],
      byType((p) => p.tally.sentBytes),
    );
    this.counter('dispatch_failures_total', 'Records a Tesla-compatible producer did not take, by producer and reason.', ['producer', 'reason'], () =>
      tallied(function* (producer, p) {
        for (const [reason, v] of p.tally.failed) yield [{ producer, reason }, v];
      }),
    );
    this.gauge('dispatch_in_flight', 'Records handed to a Tesla-compatible producer and not answered yet.', ['producer'], () =>
      tallied((producer, p) => [[{ producer }, p.tally.inFlight]]),
    );
    this.gauge(
      'dispatch_connected',
      'Whether a Tesla-compatible producer can reach its server now (1) or not (0); zmq: its socket is bound.',
      ['producer'],
      () => tallied((producer, p) => [[{ producer }, p.connected() ? 1 : 0]]),
      'min',
    );
    this.counter(
      'dispatch_reconnects_total',
      'Connection attempts of a Tesla-compatible producer after its first one (after a loss or a failed attempt).',
      ['producer'],
      () => tallied((producer, p) => [[{ producer }, p.tally.reconnects]]),
    );

    if (this.tracked.size) {
      const per = (pick: (t: VinTotals & { connected: number }) => number) =>
        function* (this: ServerMetrics): Generator<Row> {
          for (const [vin, t] of this.trackedTotals()) yield [{ vin }, pick(t)];
        }.bind(this);
      const which = 'a VIN listed in vins_signal_tracking_enabled';
      this.counter(
        'tracked_vehicle_frames_received_total',
        `Frames received from ${which}.`,
        ['vin'],
        per((t) => t.frames),
      );
      this.counter(
        'tracked_vehicle_fields_published_total',
        `Fields acked for ${which}.`,
        ['vin'],
        per((t) => t.fields),
      );
      this.gauge(
        'tracked_vehicle_connected',
        `Connections open now for ${which}.`,
        ['vin'],
        per((t) => t.connected),
      );
      this.gauge(
        'tracked_vehicle_last_frame_timestamp_seconds',
        `Unix time of the last frame from ${which} (0: none yet).`,
        ['vin'],
        per((t) => t.lastFrameAt / 1000),
        'max',
      );
    }
  }

  // Every series is filled in at scrape time from the plain numbers above.
  private counter(name: string, help: string, labelNames: string[], rows: () => Iterable<Row>): void {
    new Counter({
      name: `${P}${name}`,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [labels, v] of rows()) this.inc(labels, v);
      },
    });
  }

  /**
   * `aggregator` says how the primary merges the workers' values (`workers` above 1): a count adds
   * up; a 0/1 state is 'min' (1 only when every worker's is 1, as /readyz); a timestamp is 'max'.
   */
  private gauge(name: string, help: string, labelNames: string[], rows: () => Iterable<Row>, aggregator: 'sum' | 'min' | 'max' = 'sum'): void {
    new Gauge({
      name: `${P}${name}`,
      help,
      labelNames,
      aggregator,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [labels, v] of rows()) this.set(labels, v);
      },
    });
  }

  private histogram(name: string, help: string): TallyHistogram {
    const h = new TallyHistogram(`${P}${name}`, help, 'record_type', RECORD_TYPE_LABELS, LATENCY_BUCKETS);
    // Registry only reads name, help, type, aggregator and get(); reset() serves resetMetrics().
    this.registry.registerMetric(h as unknown as Metric);
    return h;
  }

  /** Tracked VINs: finished connections plus the live ones. */
  private trackedTotals(): Map<string, VinTotals & { connected: number }> {
    const out = new Map<string, VinTotals & { connected: number }>();
    for (const [vin, t] of this.tracked) out.set(vin, { ...t, connected: 0 });
    for (const s of this.sessions) {
      const t = out.get(s.info.vin);
      if (!t) continue;
      t.frames += s.frames;
      t.fields += s.fields;
      t.lastFrameAt = Math.max(t.lastFrameAt, s.lastFrameAt);
      t.connected++;
    }
    return out;
  }

  /** The counters behind the fleet view's health figures. */
  fleetTotals(): FleetTotals {
    const t: FleetTotals = {
      frames_acked_total: 0,
      frames_unanswered_total: 0,
      frames_error_total: 0,
      fields_total: 0,
      records_in_flight: this.inFlight,
      broker_connected: null,
    };
    for (let i = 0; i < this.frames.length; i++) {
      const outcome = FRAME_OUTCOMES[i % NO];
      if (outcome === 'unacked') t.frames_unanswered_total += this.frames[i];
      else if (outcome.startsWith('error_')) t.frames_error_total += this.frames[i];
      else t.frames_acked_total += this.frames[i];
    }
    for (const f of this.fields) t.fields_total += f;
    for (const p of this.producers.values()) {
      const link = (p as { link?: unknown }).link;
      if (link instanceof MqttLink) t.broker_connected = (t.broker_connected ?? true) && link.connected;
    }
    return t;
  }

  /** Every producer's ready() (absent: ready), and not shutting down. */
  readiness(): Readiness {
    return readinessOf(this.producers, this.accepting());
  }

  /** One row per vehicle (oneRowPerVehicle merges them; the primary does so over its workers). */
  vehicles(now = Date.now()): VehicleView[] {
    return oneRowPerVehicle(this.connectionRows(now));
  }

  connectionRows(now = Date.now()): VehicleView[] {
    return [...this.sessions]
      .sort((a, b) => a.connectedAt - b.connectedAt)
      .map((s) => ({
        vin: s.info.vin,
        connection_id: s.info.connectionId,
        connected_since: new Date(s.connectedAt).toISOString(),
        connected_seconds: (now - s.connectedAt) / 1000,
        client_version: s.info.clientVersion,
        network_interface: s.info.networkInterface,
        frames: s.frames,
        fields: s.fields,
        last_frame_at: s.lastFrameAt ? new Date(s.lastFrameAt).toISOString() : null,
      }));
  }

  // ServerEvents. These run per frame or per record: numbers only, no allocation.

  vehicleConnected(s: VehicleSession): void {
    this.fleet?.vehicleConnected(s);
    this.sessions.add(s);
    this.connections++;
  }

  vehicleDisconnected(s: VehicleSession): void {
    this.fleet?.vehicleDisconnected(s);
    if (!this.sessions.delete(s)) return;
    const t = this.tracked.get(s.info.vin);
    if (t) {
      t.frames += s.frames;
      t.fields += s.fields;
      t.lastFrameAt = Math.max(t.lastFrameAt, s.lastFrameAt);
    }
  }

  frameReceived(bytes: number): void {
    this.bytes += bytes;
  }

  frameDone(recordType: string, outcome: FrameOutcome): void {
    this.frames[typeIndex(recordType) * NO + OUTCOME_INDEX[outcome]]++;
  }

  recordStarted(): void {
    this.inFlight++;
  }

  recordFinished(): void {
    this.inFlight--;
  }

  recordPublished(recordType: string, fields: number, seconds: number, ackSeconds: number): void {
    const t = typeIndex(recordType);
    this.fields[t] += fields;
    this.publish.observe(t, seconds);
    this.ack.observe(t, ackSeconds);
  }

  recordAcked(record: VehicleRecord): void {
    this.fleet?.recordAcked(record);
  }

  /** A record derived from a vehicle's fields (see FleetStore.noteDerived); not a ServerEvents method. */
  noteDerived(vin: string, name: string, value: unknown): void {
    this.fleet?.noteDerived(vin, name, value);
  }

  // Counted per producer by producerRejected; the frame itself counts as outcome "unacked".
  producerFailed(): void {}

  producerRejected(producer: string, err: unknown): void {
    const reason = this.reasonOf(err);
    let byReason = this.failures.get(producer);
    if (!byReason) this.failures.set(producer, (byReason = new Map<string, number>()));
    byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
  }

  rateLimited(): void {
    this.rateLimitWaits++;
  }

  senderMismatch(): void {
    this.senderMismatches++;
  }

  resendJoined(): void {
    this.resendsJoined++;
  }

  // Reasons come from a fixed list (classifyHandshakeFailure), so the label set stays small.
  handshakeFailed(reason: string): void {
    this.handshakeFailures.set(reason, (this.handshakeFailures.get(reason) ?? 0) + 1);
  }

  admissionWaited(bound: 'vehicle' | 'server'): void {
    this.admissionWaits[bound]++;
  }

  olderConnectionClosed(): void {
    this.olderClosed++;
  }

  logSuppressed(event: string): void {
    // Event names are the server's own constants: a small, fixed label set.
    this.logsSuppressed.set(event, (this.logsSuppressed.get(event) ?? 0) + 1);
  }

  private reasonOf(err: unknown): string {
    const code = (err as { code?: unknown } | null)?.code;
    if (typeof code !== 'string' || !/^[a-z][a-z0-9_]{0,39}$/.test(code)) return 'other';
    if (this.reasons.has(code)) return code;
    if (this.reasons.size >= MAX_REASONS) return 'other';
    this.reasons.add(code);
    return code;
  }
}
