// Reads raw TAP from tap's "tap" reporter: prints each test file's result and every failure in
// full, then one closing line "N passed, N failed" that CI reads. The counts are tap's own closing
// "# { total, pass, fail, skip }" line when it printed one, so the run shows one number; the leaf
// ok/not ok lines (subtest lines carry "# time=") are the fallback.
import { createInterface } from 'node:readline';

let passed = 0;
let failed = 0;
let skipped = 0;
let failIndent = -1;
let tapTotals;
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
  const totals = /^# \{ total: (\d+)(.*)\}$/.exec(line);
  if (totals) {
    const n = (k) => Number(new RegExp(`\\b${k}: (\\d+)`).exec(totals[2])?.[1] ?? 0);
    tapTotals = { passed: n('pass'), failed: n('fail'), skipped: n('skip') + n('todo') };
  }
  if (failIndent >= 0 || /^# (?!Subtest)/.test(line)) console.log(line);
});
rl.on('close', () => {
  // A failure seen in the stream is never hidden by the totals.
  if (tapTotals) ({ passed, failed, skipped } = { ...tapTotals, failed: Math.max(tapTotals.failed, failed) });
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
});
