import t from 'tap';
import { parseCommandLine } from '../../src/cli/args.ts';

t.test('controller: defaults, flags over env, and refusals', async (t) => {
  const defaults = parseCommandLine(['controller'], {});
  t.match(defaults, {
    command: 'controller',
    healthPort: 8080,
    intervalMs: 300_000,
    concurrency: 16,
    leaseName: 'ecr-admission-controller',
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
  });
  const env = {
    ECR_ADMISSION_INTERVAL_MS: '60000',
    ECR_ADMISSION_NAMESPACE: 'security-system',
    POD_NAME: 'ctl-0',
    ECR_ADMISSION_NAMESPACE_SELECTOR: '{"matchExpressions":[{"key":"kubernetes.io/metadata.name","operator":"NotIn","values":["kube-system"]}]}',
  };
  const fromEnv = parseCommandLine(['controller', '--interval-ms', '5000', '--config', '/p.yaml'], env);
  t.match(fromEnv, { intervalMs: 5000, config: '/p.yaml', ownNamespace: 'security-system', identity: 'ctl-0' }, 'a flag wins over its variable');
  t.same((fromEnv as { namespaceSelector?: unknown }).namespaceSelector, {
    matchLabels: {},
    matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system'] }],
  });
  t.throws(() => parseCommandLine(['controller', '--interval-ms', '10'], {}), /between 1000/);
  t.throws(() => parseCommandLine(['controller', '--renew-deadline-ms', '20000'], {}), /retry-period-ms < --renew-deadline-ms < --lease-duration-ms/);
  t.throws(() => parseCommandLine(['controller', '--port', '1'], {}), /Unknown option/);
  t.throws(() => parseCommandLine(['controller'], { ECR_ADMISSION_NAMESPACE_SELECTOR: '{"matchExpressions":"x"}' }), /ECR_ADMISSION_NAMESPACE_SELECTOR/);
});
