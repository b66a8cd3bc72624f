import t from 'tap';
import { ecrHost, knownRegion, parseEcrHost, pullThroughCacheOrigin, unknownEcrRegion } from '../../src/image/ecr-host.ts';
import { parseImageReference } from '../../src/image/reference.ts';

const A = '111122223333';

const VALID: Array<[host: string, want: { region: string; fips: boolean; dualStack: boolean; partition: string }]> = [
  [`${A}.dkr.ecr.us-east-1.amazonaws.com`, { region: 'us-east-1', fips: false, dualStack: false, partition: 'aws' }],
  [`${A}.dkr.ecr.eu-central-2.amazonaws.com`, { region: 'eu-central-2', fips: false, dualStack: false, partition: 'aws' }],
  [`${A}.dkr.ecr.ap-southeast-4.amazonaws.com`, { region: 'ap-southeast-4', fips: false, dualStack: false, partition: 'aws' }],
  [`${A}.dkr.ecr.il-central-1.amazonaws.com`, { region: 'il-central-1', fips: false, dualStack: false, partition: 'aws' }],
  [`${A}.dkr.ecr.mx-central-1.amazonaws.com`, { region: 'mx-central-1', fips: false, dualStack: false, partition: 'aws' }],
  [`${A}.dkr.ecr.ca-west-1.amazonaws.com`, { region: 'ca-west-1', fips: false, dualStack: false, partition: 'aws' }],
  // FIPS
  [`${A}.dkr.ecr-fips.us-east-1.amazonaws.com`, { region: 'us-east-1', fips: true, dualStack: false, partition: 'aws' }],
  [`${A}.dkr.ecr-fips.us-west-2.amazonaws.com`, { region: 'us-west-2', fips: true, dualStack: false, partition: 'aws' }],
  // Dual-stack (IPv6) and FIPS dual-stack
  [`${A}.dkr-ecr.us-east-1.on.aws`, { region: 'us-east-1', fips: false, dualStack: true, partition: 'aws' }],
  [`${A}.dkr-ecr-fips.us-east-2.on.aws`, { region: 'us-east-2', fips: true, dualStack: true, partition: 'aws' }],
  // China: .amazonaws.com.cn with cn- regions only
  [`${A}.dkr.ecr.cn-north-1.amazonaws.com.cn`, { region: 'cn-north-1', fips: false, dualStack: false, partition: 'aws-cn' }],
  [`${A}.dkr.ecr.cn-northwest-1.amazonaws.com.cn`, { region: 'cn-northwest-1', fips: false, dualStack: false, partition: 'aws-cn' }],
  // GovCloud
  [`${A}.dkr.ecr.us-gov-west-1.amazonaws.com`, { region: 'us-gov-west-1', fips: false, dualStack: false, partition: 'aws-us-gov' }],
  [`${A}.dkr.ecr-fips.us-gov-east-1.amazonaws.com`, { region: 'us-gov-east-1', fips: true, dualStack: false, partition: 'aws-us-gov' }],
  [`${A}.dkr-ecr-fips.us-gov-west-1.on.aws`, { region: 'us-gov-west-1', fips: true, dualStack: true, partition: 'aws-us-gov' }],
  // Upper case: hosts are case-insensitive; the parsed host is lower-cased
  [`${A}.DKR.ECR.US-EAST-1.AMAZONAWS.COM`, { region: 'us-east-1', fips: false, dualStack: false, partition: 'aws' }],
  [`${A}.Dkr.Ecr.Eu-West-1.AmazonAws.Com`, { region: 'eu-west-1', fips: false, dualStack: false, partition: 'aws' }],
];

t.test('real ECR registry hosts parse into account, region, FIPS, dual-stack and partition', async (t) => {
  for (const [host, want] of VALID) {
    const got = parseEcrHost(host);
    t.same(got, { accountId: A, ...want, host: host.toLowerCase() }, host);
  }
});

const NOT_ECR: Array<[host: string, why: string]> = [
  [`${A}.dkr.ecr.us-east-1.amazonaws.com.evil.example`, 'suffix after amazonaws.com'],
  [`${A}.dkr.ecr.us-east-1.amazonaws.com.cn.evil.example`, 'suffix after amazonaws.com.cn'],
  [`${A}.dkr.ecr.us-east-1.\u0430mazonaws.com`, 'Cyrillic "а" in amazonaws'],
  [`${A}.dkr.ecr.us-east-1.amaz\u043enaws.com`, 'Cyrillic "о" in amazonaws'],
  [`${A}.dkr.ecr.us-east-1.amazonaws.com.`, 'trailing dot'],
  [`${A}.dkr.ecr.us-east-1.amazonaws.com:443`, 'with a port'],
  [`${A.slice(1)}.dkr.ecr.us-east-1.amazonaws.com`, '11-digit account'],
  [`${A}4.dkr.ecr.us-east-1.amazonaws.com`, '13-digit account'],
  [`x.${A}.dkr.ecr.us-east-1.amazonaws.com`, 'extra label in front'],
  [`${A}.x.dkr.ecr.us-east-1.amazonaws.com`, 'extra label after the account'],
  [`${A}.dkr.ecr.us-east-1.x.amazonaws.com`, 'extra label after the region'],
  [`evil-${A}.dkr.ecr.us-east-1.amazonaws.com`, 'account label with a prefix'],
  [`${A}.dkr.ecr.us-east-1.amazonaws.com.cn`, 'China suffix with a non-China region'],
  [`${A}.dkr.ecr.cn-north-1.amazonaws.com`, 'China region without the China suffix'],
  [`${A}.dkr-ecr.cn-north-1.on.aws`, 'China region on the global dual-stack domain'],
  [`${A}.dkr.ecr.amazonaws.com`, 'no region'],
  [`${A}.dkr.ecr.useast1.amazonaws.com`, 'not a region'],
  [`${A}.ecr.us-east-1.amazonaws.com`, 'no dkr label'],
  [`${A}.dkr.ecr.us-east-1.on.aws`, 'dkr.ecr on the dual-stack domain'],
  [`${A}.dkr-ecr.us-east-1.amazonaws.com`, 'dkr-ecr on the IPv4 domain'],
  [`${A}.dkr.ecr.us-invented-7.amazonaws.com`, 'a region of the right shape that AWS does not have'],
  [`${A}.dkr.ecr.eu-west-9.amazonaws.com`, 'a real prefix with an invented number'],
  [`${A}.dkr.ecr.cn-invented-1.amazonaws.com.cn`, 'an invented China region'],
  [`${A}.dkr.ecr-fips.us-gov-invented-1.amazonaws.com`, 'an invented GovCloud region'],
  [`${A}.dkr-ecr.zz-nowhere-1.on.aws`, 'an invented region on the dual-stack domain'],
  [`${A}.dkr.ecr.us-iso-east-1.amazonaws.com`, 'an ISO-partition region under the commercial suffix'],
  ['public.ecr.aws', 'ECR Public is not a private registry'],
  ['api.ecr.us-east-1.amazonaws.com', 'the ECR API endpoint'],
  ['docker.io', 'Docker Hub'],
  ['', 'empty'],
];

t.test('lookalike hosts are not ECR', async (t) => {
  for (const [host, why] of NOT_ECR) t.equal(parseEcrHost(host), undefined, `${why}: ${host}`);
});

t.test('only regions the SDK partition data lists by name are regions; the rest are named as unknown', async (t) => {
  // The aws partition's regionRegex (^(us|eu|ap|sa|ca|me|af|il|mx)-\w+-\d+$) takes these
  // invented names: the explicit list must decide, not the regex.
  for (const region of ['us-invented-7', 'eu-west-9', 'ap-nowhere-1', 'cn-invented-1', 'us-gov-invented-1', 'zz-nowhere-1']) {
    t.equal(knownRegion(region), undefined, `${region} is not a region`);
    t.equal(unknownEcrRegion(`${A}.dkr.ecr.${region}.amazonaws.com`), region, `${region} is named as unknown`);
  }
  // Pseudo-regions of the partition data and regions of partitions whose ECR hosts differ.
  for (const region of ['aws-global', 'aws-cn-global', 'aws-us-gov-global', 'us-iso-east-1', 'us-isob-east-1', 'eusc-de-east-1'])
    t.equal(knownRegion(region), undefined, region);
  t.same(knownRegion('us-east-1'), { partition: 'aws', dnsSuffix: 'amazonaws.com' });
  t.same(knownRegion('cn-northwest-1'), { partition: 'aws-cn', dnsSuffix: 'amazonaws.com.cn' });
  t.same(knownRegion('us-gov-west-1'), { partition: 'aws-us-gov', dnsSuffix: 'amazonaws.com' });
  t.equal(unknownEcrRegion(`${A}.dkr.ecr.us-east-1.amazonaws.com`), undefined, 'a real region is not unknown');
  t.equal(unknownEcrRegion(`${A}.dkr.ecr.cn-north-1.amazonaws.com`), undefined, 'a real region with the wrong suffix is not ECR, but its region is real');
  t.equal(unknownEcrRegion('docker.io'), undefined, 'not registry-shaped');
});

t.test('a lookalike host cannot even get through the reference parser with a non-ASCII letter', async (t) => {
  t.throws(() => parseImageReference(`${A}.dkr.ecr.us-east-1.\u0430mazonaws.com/web:1`));
  // With a port it parses as a reference, but its host is not an ECR registry.
  t.equal(parseEcrHost(parseImageReference(`${A}.dkr.ecr.us-east-1.amazonaws.com:443/web:1`).domain), undefined);
});

t.test('ecrHost builds the canonical host for a partition', async (t) => {
  t.equal(ecrHost(A, 'us-east-1'), `${A}.dkr.ecr.us-east-1.amazonaws.com`);
  t.equal(ecrHost(A, 'cn-north-1'), `${A}.dkr.ecr.cn-north-1.amazonaws.com.cn`);
  t.same(parseEcrHost(ecrHost(A, 'us-gov-west-1'))?.partition, 'aws-us-gov');
});

t.test('pull-through-cache repositories are recognised by their prefix', async (t) => {
  const prefixes = ['docker-hub', 'ghcr', 'quay/'];
  t.same(pullThroughCacheOrigin('docker-hub/library/nginx', prefixes), { prefix: 'docker-hub', upstreamPath: 'library/nginx' });
  t.same(pullThroughCacheOrigin('quay/prometheus/node-exporter', prefixes), { prefix: 'quay', upstreamPath: 'prometheus/node-exporter' });
  t.equal(pullThroughCacheOrigin('docker-hubx/library/nginx', prefixes), undefined, 'whole path components only');
  t.equal(pullThroughCacheOrigin('docker-hub', prefixes), undefined, 'the prefix alone is not a cached repository');
  t.equal(pullThroughCacheOrigin('web', prefixes), undefined);
  t.same(pullThroughCacheOrigin('ecr/private/app', ['ecr', 'ecr/private']), { prefix: 'ecr/private', upstreamPath: 'app' }, 'longest prefix wins');
});
