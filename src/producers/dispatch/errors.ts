// The catalogue (errors.ts) holds the transient refusals; re-exported for the dispatch producers.
export { DispatchError, type DispatchErrorCode } from '../../errors.js';
