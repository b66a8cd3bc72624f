import t from 'tap';
import { parseCommandLine, type CheckOptions, type ServeOptions } from '../../src/cli/args.ts';
import { ErrorCodes } from '../../src/support/errors.ts';

const serve = (argv: string[], env: Record<string, string> = {}) => parseCommandLine(['serve', ...argv], env) as ServeOptions;
const check = (argv: string[], env: Record<string, string> = {}) => parseCommandLine(['check', ...argv], env) as CheckOptions;

t.test('serve: defaults', async (t) => {
  t.same(serve([]), {
    command: 'serve',
    port: 8443,
    healthPort: 8080,
    host: '::',
    budgetMs: 8000,
    maxBodyBytes: 2 * 6 * 1.5 * 1024 * 1024 + 64 * 1024,
    logLevel: 'info',
    reloadIntervalMs: 5000,
  });
});

t.test('serve: every flag', async (t) => {
  const o = serve([
    '--config',
    '/p.yaml',
    '--tls-cert',
    '/c',
    '--tls-key',
    '/k',
    '--port',
    '9443',
    '--health-port=9090',
    '--host',
    '127.0.0.1',
    '--budget-ms',
    '2500',
    '--max-body-bytes',
    '65536',
    '--log-level',
    'debug',
    '--reload-interval-ms',
    '100',
  ]);
  t.same(o, {
    command: 'serve',
    config: '/p.yaml',
    tlsCert: '/c',
    tlsKey: '/k',
    port: 9443,
    healthPort: 9090,
    host: '127.0.0.1',
    budgetMs: 2500,
    maxBodyBytes: 65536,
    logLevel: 'debug',
    reloadIntervalMs: 100,
  });
});

t.test('serve: every flag falls back to its ECR_ADMISSION_* variable', async (t) => {
  const o = serve([], {
    ECR_ADMISSION_CONFIG: '/env.yaml',
    ECR_ADMISSION_TLS_CERT: '/ec',
    ECR_ADMISSION_TLS_KEY: '/ek',
    ECR_ADMISSION_PORT: '10443',
    ECR_ADMISSION_HEALTH_PORT: '10080',
    ECR_ADMISSION_HOST: '::',
    ECR_ADMISSION_BUDGET_MS: '3000',
    ECR_ADMISSION_MAX_BODY_BYTES: '2048',
    ECR_ADMISSION_LOG_LEVEL: 'warn',
    ECR_ADMISSION_RELOAD_INTERVAL_MS: '250',
    ECR_ADMISSION_NAMESPACE: 'ecr-admission',
  });
  t.same(o, {
    command: 'serve',
    config: '/env.yaml',
    tlsCert: '/ec',
    tlsKey: '/ek',
    port: 10443,
    healthPort: 10080,
    host: '::',
    budgetMs: 3000,
    maxBodyBytes: 2048,
    logLevel: 'warn',
    ownNamespace: 'ecr-admission',
    reloadIntervalMs: 250,
  });
});

t.test('serve: a flag beats its variable; an empty variable counts as unset', async (t) => {
  const o = serve(['--port', '1234', '--config', '/flag.yaml'], { ECR_ADMISSION_PORT: '4321', ECR_ADMISSION_CONFIG: '/env.yaml', ECR_ADMISSION_LOG_LEVEL: '' });
  t.equal(o.port, 1234);
  t.equal(o.config, '/flag.yaml');
  t.equal(o.logLevel, 'info');
});

t.test('check: flags, env and positionals', async (t) => {
  t.same(check(['nginx:1.27']), { command: 'check', namespace: 'default', output: 'text', budgetMs: 20_000, inputs: ['nginx:1.27'] });
  t.same(check(['--config', '/p.yaml', '--namespace', 'team-a', '--output', 'json', 'a', 'b.yaml']), {
    command: 'check',
    config: '/p.yaml',
    namespace: 'team-a',
    output: 'json',
    budgetMs: 20_000,
    inputs: ['a', 'b.yaml'],
  });
  t.same(check(['x'], { ECR_ADMISSION_CONFIG: '/e.yaml', ECR_ADMISSION_NAMESPACE: 'env-ns', ECR_ADMISSION_OUTPUT: 'json' }), {
    command: 'check',
    config: '/e.yaml',
    namespace: 'env-ns',
    output: 'json',
    budgetMs: 20_000,
    inputs: ['x'],
  });
  t.equal(check(['--output', 'text', 'x'], { ECR_ADMISSION_OUTPUT: 'json' }).output, 'text', 'flag beats env');
});

t.test('help, version and demo', async (t) => {
  for (const argv of [[], ['help'], ['--help'], ['-h']]) t.same(parseCommandLine(argv, {}), { command: 'help' });
  t.same(parseCommandLine(['--version'], {}), { command: 'version' });
  t.same(parseCommandLine(['demo'], {}), { command: 'demo', logLevel: 'warn' });
  t.same(parseCommandLine(['demo', '--log-level', 'info'], {}), { command: 'demo', logLevel: 'info' });
});

t.test('errors are usage errors (exit 2) carrying the usage text', async (t) => {
  const cases: Array<[argv: string[], env: Record<string, string>, why: RegExp]> = [
    [['launch'], {}, /unknown command "launch"/],
    [['serve', '--port', 'https'], {}, /--port must be a whole number, got "https"/],
    [['serve', '--port', '-1'], {}, /--port/],
    [['serve', '--port', '70000'], {}, /--port must be between 0 and 65535, got 70000/],
    [['serve'], { ECR_ADMISSION_PORT: '8443x' }, /--port must be a whole number, got "8443x"/],
    [['serve', '--budget-ms', '50'], {}, /--budget-ms must be between 100 and 29000/],
    [['serve', '--budget-ms', '30000'], {}, /--budget-ms must be between 100 and 29000/],
    [['serve', '--tls-cert', '/c'], {}, /--tls-cert and --tls-key go together/],
    [['serve'], { ECR_ADMISSION_TLS_KEY: '/k' }, /--tls-cert and --tls-key go together/],
    [['serve', '--no-such-flag'], {}, /Unknown option '--no-such-flag'/],
    [['serve', 'extra'], {}, /Unexpected argument 'extra'|positional/i],
    [['check'], {}, /check needs at least one IMAGE or FILE/],
    [['check', '--output', 'yaml', 'x'], {}, /--output must be text or json, got "yaml"/],
    [['check', 'x'], { ECR_ADMISSION_OUTPUT: 'xml' }, /--output must be text or json, got "xml"/],
    [['check', '--config'], {}, /argument missing|--config/],
    [['check', '--config', '', 'nginx'], {}, /--config needs a value, got an empty string/],
    [['serve', '--tls-cert=', '--tls-key='], {}, /--tls-cert needs a value/],
  ];
  for (const [argv, env, why] of cases) {
    t.throws(() => parseCommandLine(argv, env), { code: ErrorCodes.USAGE, message: why }, argv.join(' ') || '(none)');
    t.throws(() => parseCommandLine(argv, env), { message: /Usage: ecr-admission <command>/ }, `${argv.join(' ')} shows usage`);
  }
});

t.test('parsing is a pure function of (argv, env)', async (t) => {
  const env = Object.freeze({ ECR_ADMISSION_PORT: '9000' });
  const argv: readonly string[] = Object.freeze(['serve']);
  t.same(parseCommandLine(argv, env), parseCommandLine(argv, env));
  t.equal((parseCommandLine(argv, {}) as ServeOptions).port, 8443, 'process.env is never read');
});
