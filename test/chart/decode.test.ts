// Every built-in object the chart renders decodes strictly into the typed Kubernetes API
// (test/chart/chartcheck): a misspelt or misplaced field, a wrong type or a bad quantity is an
// error here, not something an API server drops with a warning. cert-manager and Prometheus
// Operator kinds are not built in; they must be exactly the CRD kinds the chart means to make.
import t from 'tap';
import { chartcheck } from './chartcheck.ts';
import { CI_VALUES_FILES, renderChart } from './helm.ts';

t.setTimeout(15 * 60_000);

const CRD_KINDS = new Set([
  'cert-manager.io/v1 Certificate',
  'cert-manager.io/v1 Issuer',
  'monitoring.coreos.com/v1 ServiceMonitor',
  'monitoring.coreos.com/v1 PrometheusRule',
]);

for (const ciValues of [[], ...CI_VALUES_FILES.map((file) => [file])]) {
  t.test(ciValues[0] ?? 'default values', async (t) => {
    const objects = renderChart({ ciValues });
    const results = chartcheck<Array<{ kind: string; name: string; checked: boolean; error?: string }>>('decode', objects);
    t.equal(results.length, objects.length, 'every object decoded');
    for (const [i, result] of results.entries()) {
      const object = objects[i]!;
      if (result.checked) t.notOk(result.error, `${result.kind}/${result.name} decodes strictly${result.error ? `: ${result.error}` : ''}`);
      else t.ok(CRD_KINDS.has(`${object.apiVersion} ${object.kind}`), `${object.apiVersion} ${object.kind} is an expected CRD kind`);
    }
  });
}
