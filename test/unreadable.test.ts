import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { unreadableReason } from '../src/unreadable.js';

function readError(path: string): unknown {
  try {
    readFileSync(path);
  } catch (err) {
    return err;
  }
  throw new Error(`${path} was readable`);
}

t.test('the reason a file could not be read, as an operator reads it', async (t) => {
  const dir = t.testdir({});
  t.equal(unreadableReason(readError(join(dir, 'missing.pem'))), 'no such file');
  t.equal(unreadableReason(readError(dir)), 'it is a directory');
  t.equal(unreadableReason(Object.assign(new Error('EACCES: permission denied, open x'), { code: 'EACCES' })), 'permission denied');
  t.equal(unreadableReason(Object.assign(new Error('too many open files'), { code: 'EMFILE' })), 'EMFILE', 'another code as given');
  t.equal(unreadableReason(new Error('no code here')), 'no code here', 'without a code: the message');
});
