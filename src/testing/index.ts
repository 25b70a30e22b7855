/**
 * The producer contract kit (`fleet-telemetry/testing`): runs the checks every producer passes
 * on a plugin author's own factory. docs/plugins.md shows it in a test.
 */
export {
  ContractFailure,
  producerContext,
  runProducerContract,
  type ContextOptions,
  type ContractOptions,
  type ContractReport,
  type DerivedValue,
} from './contract.js';
export { CONTRACT_VIN, contractOthers, contractV } from './records.js';
