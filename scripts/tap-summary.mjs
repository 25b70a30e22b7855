// Reads raw TAP from tap's "tap" reporter: prints each test file's result and every failure in
// full, then one closing line "N passed, N failed" that CI reads. Assertions are the leaf
// ok/not ok lines (subtest lines carry "# time=").
import { createInterface } from 'node:readline';

let passed = 0;
let failed = 0;
let skipped = 0;
let failIndent = -1;
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const m = /^(\s*)(not ok|ok) \d+/.exec(line);
  const indent = m ? m[1].length : -1;
  if (m) {
    const leaf = !/# time=/.test(line);
    if (leaf) {
      if (/# SKIP/i.test(line)) skipped++;
      else if (m[2] === 'ok') passed++;
      else failed++;
    }
    if (failIndent >= 0 && indent <= failIndent) failIndent = -1;
    if (m[2] === 'not ok' && failIndent < 0) failIndent = indent;
    if (indent === 0 || m[2] === 'not ok') console.log(line);
    return;
  }
  if (failIndent >= 0 || /^# (?!Subtest)/.test(line)) console.log(line);
});
rl.on('close', () => {
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
});
