// The ServiceMonitor scrapes the Service's metrics port, and every alert is written against
// series the server really exports (src/support/metrics.ts): a renamed metric or label fails
// here instead of leaving an alert that can never fire.
import t from 'tap';
import { createMetrics } from '../../src/support/metrics.ts';
import { NAMESPACE, only, renderChart, type KubeObject } from './helm.ts';

type ServiceMonitor = KubeObject & { spec: { selector: { matchLabels: Record<string, string> }; namespaceSelector: { matchNames: string[] }; endpoints: Array<{ port: string; path: string }> } };
type Service = KubeObject & { spec: { ports: Array<{ name: string; port: number }> } };
type PrometheusRule = KubeObject & { spec: { groups: Array<{ rules: Array<{ alert: string; expr: string; for?: string; labels?: Record<string, string> }> }> } };

const objects = renderChart({ ciValues: ['monitoring-values.yaml'] });

t.test('the ServiceMonitor scrapes /metrics on the Service', async (t) => {
  const monitor = only<ServiceMonitor>(objects, 'ServiceMonitor');
  const service = only<Service>(objects, 'Service');
  for (const [key, value] of Object.entries(monitor.spec.selector.matchLabels)) t.equal(service.metadata.labels?.[key], value, `the Service has ${key}=${value}`);
  t.same(monitor.spec.namespaceSelector.matchNames, [NAMESPACE], 'in the release namespace');
  t.equal(monitor.metadata.labels?.['release'], 'kube-prometheus-stack', 'with the labels Prometheus selects by');
  const endpoint = monitor.spec.endpoints[0];
  t.equal(endpoint?.path, '/metrics');
  t.ok(service.spec.ports.some((p) => p.name === endpoint?.port), `the Service has the ${endpoint?.port} port`);
});

t.test('alerts use the metrics and labels the server exports', async (t) => {
  const rule = only<PrometheusRule>(objects, 'PrometheusRule');
  const alerts = rule.spec.groups.flatMap((g) => g.rules);
  t.same(
    alerts.map((a) => a.alert).sort(),
    ['EcrAdmissionAwsErrors', 'EcrAdmissionDenyRateSpike', 'EcrAdmissionDown', 'EcrAdmissionLatencyNearTimeout', 'EcrAdmissionWebhookErrors'],
    'down, webhook errors, deny spike, AWS errors, p99 near timeout',
  );
  const registry = createMetrics().registry;
  for (const alert of alerts) {
    t.ok(alert.for, `${alert.alert} waits before firing`);
    t.ok(alert.labels?.['severity'], `${alert.alert} has a severity`);
    for (const [, series, selector = ''] of alert.expr.matchAll(/\b(ecr_admission_[a-z_]+)(?:\{([^}]*)\})?/g)) {
      const name = series!.replace(/_bucket$/, '');
      const metric = registry.getSingleMetric(name) as { labelNames?: readonly string[] } | undefined;
      t.ok(metric, `${alert.alert}: ${name} is exported`);
      for (const [, label] of selector.matchAll(/([a-z_]+)\s*(?:=|!=|=~)/g)) {
        if (label !== 'namespace') t.ok(metric?.labelNames?.includes(label!), `${alert.alert}: ${name} has label ${label}`);
      }
    }
  }
  const latency = alerts.find((a) => a.alert === 'EcrAdmissionLatencyNearTimeout');
  // Default timeout 10 s: budget 8 s, alert at 0.75 of it.
  t.match(latency?.expr ?? '', /> 6(\.0+)?\s*$/, 'p99 threshold is a fraction of the admission budget');
});
