// The admission and mutation lines are written by infoLineWriter (src/server/log-line.ts), which
// builds pino's line itself with one JSON.stringify: its output must be the line pino's own
// logger.info(fields, message) writes, byte for byte but for the time, for the configurations
// `serve` uses and pino's defaults, and for values a requester chooses (quotes, newlines,
// unicode, absent fields).
import t from 'tap';
import { pino, type Logger } from 'pino';
import { admissionLogLine, infoLineWriter } from '../../src/server/log-line.ts';

function capture(options: pino.LoggerOptions): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: pino(options, { write: (l: string) => void lines.push(l) }), lines };
}

const withoutTime = (line: string) => line.replace(/"time":\d+/, '"time":0');

const cases: Array<Record<string, unknown>> = [
  { uid: 'u-1', kind: 'Pod', operation: 'CREATE', namespace: 'team-a', name: undefined, dryRun: false, decision: 'allow', durationMs: 0.4 },
  { uid: 'x"y\\z', why: 'line one\nline two\r\t\u0000', user: 'system:serviceaccount:ns:sa' },
  { name: 'ünïcødé-名前-😀', images: [{ container: 'app', image: 'repo:tag', results: { origin: 'pass', digest: 'fail: moved' } }] },
  {},
];

for (const [label, options] of [
  ['serve (base: service)', { level: 'info', base: { service: 'ecr-admission' } }],
  ['pino defaults (pid, hostname)', {}],
] as const) {
  t.test(`the line pino would write: ${label}`, async (t) => {
    for (const fields of cases) {
      const ours = capture(options);
      const theirs = capture(options);
      infoLineWriter(ours.logger, 'admission')(fields);
      theirs.logger.info(fields, 'admission');
      t.equal(ours.lines.length, 1, 'one line');
      t.equal(withoutTime(ours.lines[0]!), withoutTime(theirs.lines[0]!), `same bytes for ${JSON.stringify(Object.keys(fields))}`);
      t.same((JSON.parse(ours.lines[0]!) as { msg: string }).msg, 'admission');
    }
  });
}

t.test('nothing is written when info is not enabled', async (t) => {
  const { logger, lines } = capture({ level: 'warn' });
  infoLineWriter(logger, 'admission')({ uid: 'u' });
  t.same(lines, []);
  logger.level = 'info';
  infoLineWriter(logger, 'admission')({ uid: 'u' });
  t.equal(lines.length, 1, 'and written once it is');
});

t.test('a lone surrogate (not valid UTF-16) is escaped, so the line stays valid UTF-8 JSON', async (t) => {
  // pino writes it raw (it becomes U+FFFD on the way to UTF-8); JSON.stringify escapes it.
  const { logger, lines } = capture({ base: null });
  infoLineWriter(logger, 'admission')({ name: 'a\ud800b' });
  t.match(lines[0], /"name":"a\\ud800b"/);
  t.equal((JSON.parse(lines[0]!) as { name: string }).name, 'a\ud800b');
});

t.test('fields given as JSON text come after the others, as pino would write the parsed value', async (t) => {
  const images = [{ container: 'app', image: 'repo:tag"x', digest: 'sha256:00', results: { origin: 'pass', digest: 'fail: moved\n' } }];
  for (const fields of cases) {
    const ours = capture({ level: 'info', base: { service: 'ecr-admission' } });
    const theirs = capture({ level: 'info', base: { service: 'ecr-admission' } });
    const { images: _ignored, ...rest } = fields;
    infoLineWriter(ours.logger, 'admission')(rest, { images: JSON.stringify(images) });
    theirs.logger.info({ ...rest, images }, 'admission');
    t.equal(withoutTime(ours.lines[0]!), withoutTime(theirs.lines[0]!), `same bytes for ${JSON.stringify(Object.keys(rest))} + images`);
  }
  const fallback = capture({ level: 'info' });
  const plain = { info: (o: object, m: string) => fallback.logger.info(o, m), isLevelEnabled: () => true, levels: { values: { info: 30 } } };
  infoLineWriter(plain as unknown as Logger, 'admission')({ uid: 'u' }, { images: '[1,2]' });
  t.same((JSON.parse(fallback.lines[0]!) as { images: unknown }).images, [1, 2], 'a logger whose stream is not seen gets the value parsed');
});

t.test("an admission's images are serialised once per images array, and each array gets its own", async (t) => {
  const policy = { name: 'default' } as never;
  const verdict = (image: string, status: 'pass' | 'fail') => ({
    container: { containerKind: 'containers', containerName: 'app', image },
    policy,
    results: [{ check: 'origin', status, ...(status === 'fail' && { reason: 'not allowed' }) }],
  });
  const request = (uid: string) => ({ uid, kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', namespace: 'a', name: 'p' }) as never;
  const kept = [verdict('repo:1', 'pass')];
  const first = admissionLogLine(request('u1'), { response: {} as never, result: 'allow', images: kept } as never, 0.001);
  const second = admissionLogLine(request('u2'), { response: {} as never, result: 'allow', images: kept } as never, 0.002);
  t.equal(first.json.images, second.json.images, 'the same text for the same array');
  t.equal(second.fields.uid, 'u2', "the other fields are the request's own");
  t.same(JSON.parse(first.json.images!), [{ container: 'app', image: 'repo:1', policy: 'default', results: { origin: 'pass' } }]);
  const other = admissionLogLine(request('u3'), { response: {} as never, result: 'deny', images: [verdict('repo:2', 'fail')] } as never, 0.001);
  t.same(
    JSON.parse(other.json.images!),
    [{ container: 'app', image: 'repo:2', policy: 'default', results: { origin: 'fail: not allowed' } }],
    'another array: its own text',
  );
});
