/** `producers.<name>.options` of the recorder, checked: the config passes them as parsed JSON. */
export interface RecorderOptions {
  /** Folder the files go to, one `<VIN>.jsonl` per vehicle; it must exist. */
  dir: string;
  /** Whether a record is taken only once its line is on disk (fdatasync); default true. */
  sync: boolean;
}

/** The options, or an error naming what is wrong: the server then refuses to start. */
export function recorderOptions(raw: Record<string, unknown>): RecorderOptions {
  for (const key of Object.keys(raw)) {
    if (key !== 'dir' && key !== 'sync') throw new Error(`jsonl-recorder: unknown option ${JSON.stringify(key)}; known: dir, sync`);
  }
  if (typeof raw.dir !== 'string' || raw.dir === '') throw new Error('jsonl-recorder: options.dir must name a folder');
  if (raw.sync !== undefined && typeof raw.sync !== 'boolean') throw new Error('jsonl-recorder: options.sync must be true or false');
  return { dir: raw.dir, sync: raw.sync ?? true };
}
