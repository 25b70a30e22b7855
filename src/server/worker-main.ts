// The script cluster.ts forks: one worker process.
import { runWorker } from './worker.js';

runWorker();
