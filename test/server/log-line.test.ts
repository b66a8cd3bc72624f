// The admission and mutation lines are written by infoLineWriter (src/server/log-line.ts), which
// builds pino's line itself with one JSON.stringify: its output must be the line pino's own
// logger.info(fields, message) writes, byte for byte but for the time, for the configurations
// `serve` uses and pino's defaults, and for values a requester chooses (quotes, newlines,
// unicode, absent fields).
import t from 'tap';
import { pino, type Logger } from 'pino';
import { infoLineWriter } from '../../src/server/log-line.ts';

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
