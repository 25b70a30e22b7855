import { crc32 } from 'node:zlib';

/**
 * The partition librdkafka's default partitioner (consistent_random, which Tesla's server runs)
 * gives a keyed message: CRC-32 of the key modulo the topic's partition count. Keyed by VIN, a
 * vehicle's records then land in the same partition as with Tesla's server, so consumers that
 * rely on a vehicle's order or placement keep working after the move.
 */
export function consistentPartition(key: Uint8Array, partitionCount: number): number {
  return partitionCount > 0 ? crc32(key) % partitionCount : 0;
}
