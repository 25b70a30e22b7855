export * from './types.js';
export { readFrame, peekTxid } from './read.js';
export { writeAck, writeError, writeStreamFrame, writeOtherFrame } from './write.js';
