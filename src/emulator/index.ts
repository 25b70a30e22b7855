// The emulator as a library: tests and the benchmark drive vehicles without the CLI.
export { EmulatedVehicle } from './vehicle.js';
export { Fleet, summaryOk } from './fleet.js';
export { certSourceFromCa, certSourceFromDir, emulatorVin, emulatorVins } from './identity.js';
export { FileFrameStore } from './store.js';
export { LatencyHistogram } from './stats.js';
export { CarModel, type CarState } from './model.js';
export { FIELD_CATALOGUE } from './fields.js';
export { RecordFactory } from './records.js';
