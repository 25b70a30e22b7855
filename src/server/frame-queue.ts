/**
 * Frames a connection received and has not handled yet, oldest first, with their arrival times
 * (performance.now()) for the ack latency and their bytes for the connection's read bound.
 */
export class FrameQueue {
  private readonly frames: Buffer[] = [];
  private readonly arrivals: number[] = [];
  /** Bytes of the frames held. */
  bytes = 0;
  /** Arrival time of the frame the last shift() returned. */
  arrivedAt = 0;

  get length(): number {
    return this.frames.length;
  }

  push(data: Buffer, at: number): void {
    this.frames.push(data);
    this.arrivals.push(at);
    this.bytes += data.length;
  }

  /** The oldest frame (the queue must not be empty); its arrival time is then `arrivedAt`. */
  shift(): Buffer {
    const data = this.frames.shift()!;
    this.arrivedAt = this.arrivals.shift()!;
    this.bytes -= data.length;
    return data;
  }

  clear(): void {
    this.frames.length = 0;
    this.arrivals.length = 0;
    this.bytes = 0;
  }
}
