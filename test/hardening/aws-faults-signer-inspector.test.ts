// AWS faults on the signature download, AWS Signer and Amazon Inspector operations the checks
// use (layer GET, GetRevocationStatus, ListFindings, ListCoverage), every fault kind, under
// both onError settings: see fault-matrix.ts for what each cell must show.
import t from 'tap';
import { FAULT_KINDS, TARGETS, runCell, runCells } from './fault-matrix.ts';

const OPS = ['layer:GET', 'signer:GetRevocationStatus', 'inspector2:ListFindings', 'inspector2:ListCoverage'];

t.test('every fault on the signature download, Signer and Inspector: a decision per onError, named, in time, not remembered', async (t) => {
  const cells = TARGETS.filter((x) => OPS.includes(x.op)).flatMap((target) =>
    FAULT_KINDS.flatMap((kind) => (['deny', 'allow'] as const).map((onError) => ({ target, kind, onError }))),
  );
  const results = await runCells(cells, 4, ({ target, kind, onError }) => runCell(target, kind, onError));
  for (const r of results.sort((a, b) => a.label.localeCompare(b.label))) t.same(r.problems, [], `${r.label} (${r.ms} ms)`);
  t.comment(`${results.length} fault cells, slowest ${Math.max(...results.map((r) => r.ms))} ms`);
});
