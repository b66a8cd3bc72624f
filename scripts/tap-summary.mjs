// Prints node-tap's result as the plain closing line CI reads ("N passed, N failed"), from
// the "# { total: N, pass: N, fail: N }" line tap writes at the end of its TAP output.
//
//   node scripts/tap-summary.mjs LOG [LABEL]
//   node scripts/tap-summary.mjs LABEL NAME=LOG NAME=LOG...
//
// The second form sums several tap runs (the e2e suite on each Kubernetes version): one line per
// run naming it ("e2e on kube-apiserver v1.32.13: ..."), then the one closing line for all.
import { existsSync, readFileSync } from 'node:fs';

/** pass, fail and skip counts of the last summary line of a tap log; undefined when there is none. */
function counts(path) {
  if (!existsSync(path)) return undefined;
  const text = readFileSync(path, 'utf8');
  const last = text
    .split('\n')
    .filter((l) => /^# \{ total: /.test(l))
    .at(-1);
  if (!last) return undefined;
  const count = (key) => Number((new RegExp(`${key}: (\\d+)`).exec(last) ?? [])[1] ?? 0);
  return { pass: count('pass'), fail: count('fail'), skip: count('skip') + count('todo') };
}

const line = (label, c) => `${label}: ${c.pass} passed, ${c.fail} failed${c.skip ? `, ${c.skip} skipped` : ''}`;

const args = process.argv.slice(2);
const runs = args.slice(1).filter((a) => a.includes('='));
if (runs.length === 0) {
  const c = counts(args[0]);
  if (!c) {
    console.error('tap-summary: no tap summary line found');
    process.exit(1);
  }
  console.log(line(args[1] ?? 'tests', c));
  process.exit(c.fail > 0 ? 1 : 0);
}

const label = args[0];
const total = { pass: 0, fail: 0, skip: 0 };
let missing = false;
for (const run of runs) {
  const [name, path] = [run.slice(0, run.indexOf('=')), run.slice(run.indexOf('=') + 1)];
  const c = counts(path);
  if (!c) {
    // A run that never printed its summary (tap crashed, or was never started) is a failure.
    console.log(`${label} on ${name}: no tap summary line in ${path}`);
    missing = true;
    continue;
  }
  console.log(line(`${label} on ${name}`, c));
  for (const key of ['pass', 'fail', 'skip']) total[key] += c[key];
}
console.log(line(label, total));
process.exit(total.fail > 0 || missing ? 1 : 0);
