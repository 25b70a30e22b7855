import type { Backoff } from '../../backoff.js';

export interface StartRetry {
  /** Stops the next attempt; one in flight is ignored when it settles. */
  cancel(): void;
}

/**
 * A link's start-up: `attempt` again after `backoff.next()` until it succeeds, then `up()`; each
 * failure goes to `failed` with the wait before the next try. Nothing runs after `cancel`.
 */
export function retryStart(attempt: () => Promise<unknown>, backoff: Backoff, up: () => void, failed: (err: unknown, retryMs: number) => void): StartRetry {
  let cancelled = false;
  let timer: NodeJS.Timeout | undefined;
  const run = () => {
    timer = undefined;
    if (cancelled) return;
    attempt().then(
      () => {
        if (!cancelled) up();
      },
      (err: unknown) => {
        if (cancelled) return;
        const wait = backoff.next();
        failed(err, wait);
        timer = setTimeout(run, wait);
      },
    );
  };
  run();
  return {
    cancel: () => {
      cancelled = true;
      if (timer) clearTimeout(timer);
    },
  };
}
