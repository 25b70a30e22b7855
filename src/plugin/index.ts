/**
 * The plugin API (`fleet-telemetry/plugin`): what a producer plugin implements and what it is
 * given. docs/plugins.md tells how to write, configure and test one.
 */
export type { DerivedPublisher, PresenceCorrections, Producer, ProducerContext, ProducerFactory } from './producer.js';
export type {
  Alert,
  AlertsRecord,
  ConnectivityRecord,
  Datum,
  ErrorsRecord,
  Instant,
  RecordType,
  VehicleErrorEntry,
  VehicleRecord,
  VRecord,
} from '../record/types.js';
export type { Config } from '../config/types.js';
export type { Logger } from 'pino';
export { FleetTelemetryError, InvalidRecord, type ErrorCode } from '../errors.js';
export { rateLimitedLog, type LimitedLevel, type RateLimitedLog, type RateLimitedLogOptions } from './log.js';
