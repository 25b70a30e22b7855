// The catalogue (errors.ts) holds the transient refusals; re-exported for the dispatch producers.
export { DispatchError } from '../../errors.js';
