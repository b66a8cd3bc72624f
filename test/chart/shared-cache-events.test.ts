// The chart's part of issue 16: the shared fact cache's Secret reaches the pods as environment,
// the NetworkPolicy opens the cache's port only when the policy names a shared cache, and the
// policy's events and cache.shared blocks are checked by the values schema like the server does.
import t from 'tap';
import { helmTemplate, only, renderChart } from './helm.ts';

type Env = { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } } };
type Pod = { spec: { template: { spec: { containers: { name: string; env: Env[] }[] } } } };
type Egress = { ports?: { port: number | string; protocol: string }[]; to?: unknown[] };

const shared = [
  'policy.cache.shared={"url":"rediss://cache.internal:6379"}',
  'policy.events={"sqsQueueUrl":"https://sqs.us-east-1.amazonaws.com/111122223333/ecr-admission-events"}',
  'sharedCache.existingSecret="ecr-admission-cache"',
  'networkPolicy.enabled=true',
  'networkPolicy.sharedCacheTo=[{"ipBlock":{"cidr":"10.0.64.0/20"}}]',
];

t.test('the Secret becomes the password and HMAC key variables; the cache port is opened to its peers', async (t) => {
  const objects = renderChart({ setJson: shared });
  const env = only<Pod>(objects, 'Deployment').spec.template.spec.containers[0]!.env;
  const byName = new Map(env.map((e) => [e.name, e]));
  t.same(byName.get('ECR_ADMISSION_SHARED_CACHE_PASSWORD')?.valueFrom?.secretKeyRef, { name: 'ecr-admission-cache', key: 'password', optional: true });
  t.same(byName.get('ECR_ADMISSION_SHARED_CACHE_HMAC_KEY')?.valueFrom?.secretKeyRef, { name: 'ecr-admission-cache', key: 'hmacKey', optional: true });
  const egress = only<{ spec: { egress: Egress[] } }>(objects, 'NetworkPolicy').spec.egress;
  const cache = egress.filter((e) => e.ports?.some((p) => p.port === 6379));
  t.equal(cache.length, 1, 'one rule for the cache port');
  t.same(cache[0]!.to, [{ ipBlock: { cidr: '10.0.64.0/20' } }]);
});

t.test('without a shared cache: no variables, no cache port', async (t) => {
  const objects = renderChart({ setJson: ['networkPolicy.enabled=true'] });
  const env = only<Pod>(objects, 'Deployment').spec.template.spec.containers[0]!.env;
  t.notOk(
    env.some((e) => e.name.startsWith('ECR_ADMISSION_SHARED_CACHE_')),
    'no shared cache variables',
  );
  const egress = only<{ spec: { egress: Egress[] } }>(objects, 'NetworkPolicy').spec.egress;
  t.notOk(
    egress.some((e) => e.ports?.some((p) => p.port === 6379)),
    'no cache rule',
  );
});

t.test('the values schema refuses what the server would', async (t) => {
  for (const bad of [
    'policy.cache.shared={"url":"http://cache:6379"}',
    'policy.cache.shared={"url":"redis://cache:6379","password":"in the file"}',
    'policy.events={"sqsQueueUrl":"sqs://queue"}',
    'policy.events={"sqsQueueUrl":"https://sqs.us-east-1.amazonaws.com/1/q","waitTimeSeconds":30}',
    'sharedCache.existingSecret="Not A Name"',
  ]) {
    const run = helmTemplate({ setJson: [bad] });
    t.not(run.status, 0, `${bad}: refused`);
  }
});
