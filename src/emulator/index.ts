// The emulator as a library: tests and the benchmark drive vehicles without the CLI.
export { EmulatedVehicle } from './vehicle.js';
export { VEHICLE_DEFAULTS, type VehicleOptions, type VehicleTuning, type AckEvent, type ErrorEvent } from './options.js';
export { Fleet, countsJson, summaryOk, type FleetOptions, type FleetProgress, type FleetSummary, type CountsJson } from './fleet.js';
export { certSourceFromCa, certSourceFromDir, emulatorVin, emulatorVins, VIN_PREFIX, type CertSource } from './identity.js';
export { FileFrameStore, type FrameStore, type StoredFrame } from './store.js';
export { EmulatorStats, LatencyHistogram, RecordTypeStats, pendingOf, type FrameCounts } from './stats.js';
export { CarModel, type CarState } from './model.js';
export { FIELD_CATALOGUE, resolveFields } from './fields.js';
export { RecordFactory } from './records.js';
export { progressLine, summaryText } from './report.js';
