// Prints node-tap's result as the plain closing line CI reads ("N passed, N failed"), from
// the "# { total: N, pass: N, fail: N }" line tap writes at the end of its TAP output.
import { readFileSync } from 'node:fs';

const text = readFileSync(process.argv[2], 'utf8');
const lines = text.split('\n').filter((l) => /^# \{ total: /.test(l));
const last = lines.at(-1);
if (!last) {
  console.error('tap-summary: no tap summary line found');
  process.exit(1);
}
const count = (key) => Number((new RegExp(`${key}: (\\d+)`).exec(last) ?? [])[1] ?? 0);
const label = process.argv[3] ?? 'tests';
const skipped = count('skip') + count('todo');
console.log(`${label}: ${count('pass')} passed, ${count('fail')} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(count('fail') > 0 ? 1 : 0);
