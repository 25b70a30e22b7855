import { connect } from 'node:net';

function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until something accepts TCP connections on 127.0.0.1:port. */
export async function waitForPort(port: number, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await accepting(port))) {
    if (Date.now() > end) throw new Error(`nothing listening on 127.0.0.1:${port} after ${ms} ms`);
    await sleep(25);
  }
}
