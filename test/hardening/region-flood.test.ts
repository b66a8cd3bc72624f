// Issue 12, item 7: Pods naming thousands of invented regions must not grow the heap. An
// allowed account that lists no regions used to take any "xx-word-9" as a region and make one
// SDK client (about 21 KiB) per name. Now only regions the SDK's partition data lists are
// regions, an invented one is an origin failure, and the client set is an LRU whose evicted
// clients are destroyed once their calls have answered.
import t from 'tap';
import { DescribeRepositoriesCommand } from '@aws-sdk/client-ecr';
import { AwsClients, DEFAULT_MAX_CLIENTS } from '../../src/facts/aws-clients.ts';
import { parseEcrHost } from '../../src/image/ecr-host.ts';
import { startSandbox } from '../../src/dev/sandbox/index.ts';
import { podRequest, SANDBOX_CREDENTIALS, startHarness } from '../helpers/harness.ts';
import { ACCOUNT, fixture, fullPolicy, REGION, runs, settledHeap } from './helpers.ts';

/** Real regions of every partition ECR hosts are recognised for. */
const REAL_REGIONS = [
  'us-east-1',
  'us-east-2',
  'us-west-1',
  'us-west-2',
  'ca-central-1',
  'ca-west-1',
  'mx-central-1',
  'sa-east-1',
  'eu-west-1',
  'eu-west-2',
  'eu-west-3',
  'eu-central-1',
  'eu-central-2',
  'eu-north-1',
  'eu-south-1',
  'eu-south-2',
  'il-central-1',
  'me-central-1',
  'me-south-1',
  'af-south-1',
  'ap-east-1',
  'ap-south-1',
  'ap-south-2',
  'ap-northeast-1',
  'ap-northeast-2',
  'ap-northeast-3',
  'ap-southeast-1',
  'ap-southeast-2',
  'ap-southeast-3',
  'ap-southeast-4',
  'ap-southeast-5',
  'ap-southeast-7',
  'cn-north-1',
  'cn-northwest-1',
  'us-gov-west-1',
  'us-gov-east-1',
];

/** Registry hosts for a real region in each form ECR serves: IPv4, FIPS, dual-stack, FIPS dual-stack. */
function hostsOf(region: string): string[] {
  if (region.startsWith('cn-')) return [`${ACCOUNT}.dkr.ecr.${region}.amazonaws.com.cn`];
  return [
    `${ACCOUNT}.dkr.ecr.${region}.amazonaws.com`,
    `${ACCOUNT}.dkr.ecr-fips.${region}.amazonaws.com`,
    `${ACCOUNT}.dkr-ecr.${region}.on.aws`,
    `${ACCOUNT}.dkr-ecr-fips.${region}.on.aws`,
  ];
}

/** A letters-only word for n (region labels hold letters only). */
function word(n: number): string {
  let out = '';
  do {
    out += String.fromCharCode(97 + (n % 26));
    n = Math.floor(n / 26);
  } while (n > 0);
  return `inv${out}`;
}

/** The n-th invented registry host, cycling through the forms an attacker would try: names the
 *  aws partition's regionRegex accepts, names no regex accepts, China and GovCloud lookalikes. */
function inventedHost(n: number): { host: string; region: string } {
  const w = word(n);
  switch (n % 5) {
    case 0:
      return { host: `${ACCOUNT}.dkr.ecr.us-${w}-1.amazonaws.com`, region: `us-${w}-1` };
    case 1:
      return { host: `${ACCOUNT}.dkr.ecr.eu-west-${10 + (n % 89)}.amazonaws.com`, region: `eu-west-${10 + (n % 89)}` };
    case 2:
      return { host: `${ACCOUNT}.dkr-ecr.zz-${w}-2.on.aws`, region: `zz-${w}-2` };
    case 3:
      return { host: `${ACCOUNT}.dkr.ecr.cn-${w}-1.amazonaws.com.cn`, region: `cn-${w}-1` };
    default:
      return { host: `${ACCOUNT}.dkr.ecr-fips.us-gov-${w}-1.amazonaws.com`, region: `us-gov-${w}-1` };
  }
}

// The account is allowed in every region: the case where the region grammar was the only bound.
const ANY_REGION_POLICY = fullPolicy().replace(`{ accountId: "${ACCOUNT}", regions: [${REGION}] }`, `{ accountId: "${ACCOUNT}" }`);

t.test('real regions of every partition still parse, in every host form', async (t) => {
  for (const region of REAL_REGIONS) {
    for (const host of hostsOf(region)) t.equal(parseEcrHost(host)?.region, region, host);
  }
  t.equal(parseEcrHost(`${ACCOUNT}.dkr.ecr.cn-north-1.amazonaws.com.cn`)?.partition, 'aws-cn');
  t.equal(parseEcrHost(`${ACCOUNT}.dkr-ecr-fips.us-gov-east-1.on.aws`)?.partition, 'aws-us-gov');
});

t.test('thousands of invented regions are origin failures, ask AWS nothing, and leave the heap flat', async (t) => {
  t.not(ANY_REGION_POLICY, fullPolicy(), 'the policy allows the account in any region');
  const h = await startHarness({ fixture: fixture(), policy: ANY_REGION_POLICY, budgetMs: 3000 });
  t.teardown(() => h.close());
  // Control: an allowed image in a real region is checked against AWS and admitted.
  const control = await h.reviewPod([`${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/app:1.0`]);
  t.equal(control.response.allowed, true, 'control: the signed, scanned image in a real region is allowed');
  t.ok(h.sandbox.calls() > 0, 'control: that image was checked against the sandbox');

  const total = runs(4000);
  const perPod = 20;
  let n = 0;
  const batch = async (count: number) => {
    let wrong = 0;
    for (let done = 0; done < count; done += perPod) {
      const invented = Array.from({ length: perPod }, () => inventedHost(n++));
      const out = await h.runtime.reviewer.review(podRequest(invented.map((i) => `${i.host}/app:1.0`)));
      if (out.response.allowed) wrong++;
      for (const [i, verdict] of out.images.entries()) {
        const origin = verdict.results.find((r) => r.check === 'origin');
        const ran = verdict.results.map((r) => r.check).join(',');
        if (origin?.status !== 'fail' || !origin.reason?.includes(`names region "${invented[i]!.region}"`) || ran !== 'origin') {
          wrong++;
          if (wrong < 5) t.fail(`${invented[i]!.host}: ${JSON.stringify(verdict.results)}`);
        }
      }
    }
    return wrong;
  };
  // A first batch warms every code path, so the heap is compared with itself in use.
  t.equal(await batch(200), 0, 'warm-up: every invented region is an origin failure');
  h.sandbox.resetCalls();
  const before = await settledHeap();
  t.equal(await batch(total), 0, `${total} invented regions: every one denied by the origin check alone (no other check ran)`);
  const after = await settledHeap();
  t.equal(h.sandbox.calls(), 0, 'no AWS call was made for an invented region (so no client was made for one)');
  const grewMiB = (after - before) / 2 ** 20;
  t.comment(`heap ${(before / 2 ** 20).toFixed(1)} MiB -> ${(after / 2 ** 20).toFixed(1)} MiB over ${total} invented regions`);
  // One SDK client per region was about 21 KiB: 4,000 of them would be about 80 MiB.
  t.ok(grewMiB < 8, `heap grew ${grewMiB.toFixed(1)} MiB (< 8 MiB)`);
});

t.test('the client set is an LRU: bounded, and an evicted client is destroyed', async (t) => {
  const sandbox = await startSandbox({ fixture: fixture() });
  t.teardown(() => sandbox.close());
  const destroyed = new Set<object>();
  const watch = <C extends { destroy(): void }>(client: C): C => {
    if (Object.hasOwn(client, 'destroy')) return client;
    const destroy = client.destroy.bind(client);
    client.destroy = () => {
      destroyed.add(client);
      destroy();
    };
    return client;
  };
  const options = { env: sandbox.endpoints(), aws: { endpoints: {}, maxAttempts: 1 }, roleFor: () => undefined, credentials: SANDBOX_CREDENTIALS };

  const small = new AwsClients({ ...options, maxClients: 8 });
  const made = new Set<object>();
  let maxSize = 0;
  for (let account = 0; account < 5; account++) {
    const id = String(100000000000 + account);
    for (const region of REAL_REGIONS) {
      made.add(watch(small.ecr(id, region)));
      made.add(watch(small.inspector(id, region)));
      made.add(watch(small.signer(id, region)));
      maxSize = Math.max(maxSize, small.size);
    }
  }
  t.equal(made.size, 5 * REAL_REGIONS.length * 3, 'one client per (service, account, region)');
  t.equal(maxSize, 8, 'never more than maxClients kept');
  t.equal(destroyed.size, made.size - 8, 'every evicted client was destroyed');
  small.destroy();
  t.equal(destroyed.size, made.size, 'destroy() destroys the clients still kept');

  const dflt = new AwsClients(options);
  for (let i = 0; i < DEFAULT_MAX_CLIENTS + 50; i++) dflt.ecr(String(200000000000 + i), 'us-east-1');
  t.equal(dflt.size, DEFAULT_MAX_CLIENTS, `the default bound is ${DEFAULT_MAX_CLIENTS}`);
  dflt.destroy();
});

t.test('an evicted client with a call under way is destroyed only once the call has answered', async (t) => {
  const sandbox = await startSandbox({ fixture: fixture() });
  t.teardown(() => sandbox.close());
  const clients = new AwsClients({
    env: sandbox.endpoints(),
    aws: { endpoints: {}, maxAttempts: 1 },
    roleFor: () => undefined,
    credentials: SANDBOX_CREDENTIALS,
    maxClients: 2,
  });
  t.teardown(() => clients.destroy());
  const busy = clients.ecr(ACCOUNT, REGION);
  let destroyed = 0;
  const destroy = busy.destroy.bind(busy);
  busy.destroy = () => {
    destroyed++;
    destroy();
  };
  sandbox.inject('ecr:DescribeRepositories', { kind: 'slow', delayMs: 400, times: 1 });
  const call = busy.send(new DescribeRepositoriesCommand({ repositoryNames: ['app'] }));
  await new Promise((r) => setTimeout(r, 100));
  clients.ecr(ACCOUNT, 'us-west-2');
  clients.ecr(ACCOUNT, 'eu-west-1');
  t.equal(clients.size, 2, 'the busy client was evicted');
  t.equal(destroyed, 0, 'not destroyed while its call is under way');
  const out = await call;
  t.equal(out.repositories?.[0]?.repositoryName, 'app', 'the call answered normally');
  t.equal(destroyed, 1, 'destroyed once the call answered');
});
