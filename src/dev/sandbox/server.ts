// The in-process AWS sandbox: one node:http server on 127.0.0.1 that speaks ECR (JSON 1.1),
// Inspector2 and Signer (REST-JSON), the OCI registry API and pre-signed layer URLs, seeded
// from a SandboxFixture. Tests drive it with the real AWS SDK clients.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleEcr, ecrOperationName, parseEcrInput } from './ecr.ts';
import { FaultTable, corrupt, faultError, opMatches, type Fault, type Protocol } from './faults.ts';
import type { SandboxFixture } from './fixture.ts';
import { INSPECTOR_ROUTES, handleInspector } from './inspector.ts';
import { handleLayer, handleOci, ociOperation } from './oci.ts';
import { SandboxRuntime } from './runtime.ts';
import { handleSigner, signerInput } from './signer.ts';
import { handleKms, KMS_TARGET_PREFIX, kmsOperationName } from './kms.ts';
import { SandboxState } from './store.ts';
import { handleSts, isStsRequest, stsOperation } from './sts.ts';
import { SQS_TARGET_PREFIX, SandboxQueues, renderSqsError, sqsFaultError } from './sqs.ts';
import { ApiError, readBody, renderJson11Error, renderOciError, renderRestJsonError, renderS3Error, sigV4Scope, type Outgoing } from './wire.ts';

export type Latency = number | ((op: string) => number);

export interface SandboxOptions {
  fixture: SandboxFixture;
  latencyMs?: Latency;
  /** Port (default 0: any free port). */
  port?: number;
  /** Listen address (default 127.0.0.1; tests always use the default). `ecr-admission sandbox`
   *  may bind another address so that a local cluster can reach it. */
  host?: string;
  /** Random source for probabilistic faults (default Math.random), for reproducible runs. */
  random?: () => number;
}

export interface CallRecord {
  op: string;
  at: number;
  status: number; // 0: the connection was reset, or the answer never went out
  input: unknown;
  error?: string; // a sandbox defect (a handler threw something that is not an API error)
  accessKeyId?: string; // from the SigV4 credential scope: who signed the call
}

export interface Sandbox {
  /** http://127.0.0.1:PORT */
  url: string;
  /** AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL_INSPECTOR2, AWS_ENDPOINT_URL_SIGNER -> url. */
  endpoints(): Record<string, string>;
  /** Calls received for an operation ('ecr:DescribeImages', 'oci:GET manifests', 'layer:GET';
   *  'ecr:*' for a service; omitted: all). Retries count: each is a call. */
  calls(op?: string): number;
  /** The most recent calls (up to 100,000), oldest first. */
  callLog(): CallRecord[];
  resetCalls(): void;
  inject(op: string, fault: Fault): void;
  clearFaults(): void;
  setLatency(ms: Latency): void;
  /** SQS queues (AWS JSON 1.0): create one, put an EventBridge event on it, see its depth. */
  readonly queues: SandboxQueues;
  /** Changes the fixture (move a tag, add a finding, revoke...). The change is compiled whole
   *  before it takes effect; if it makes the fixture invalid it throws and nothing changes. */
  update(mutator: (f: SandboxFixture) => void): void;
  close(): Promise<void>;
}

const MAX_LOG = 100_000;

interface Routed {
  op: string;
  protocol: Protocol | 'json10';
  service: string;
  input: unknown;
  run: () => Outgoing;
  /** Before run: SQS's long polling waits here for a message. */
  wait?: () => Promise<void>;
}

function render(protocol: Protocol | 'json10', e: ApiError): Outgoing {
  if (protocol === 'json10') return renderSqsError(e);
  if (protocol === 'json11') return renderJson11Error(e);
  if (protocol === 'rest-json') return renderRestJsonError(e);
  if (protocol === 'oci') return renderOciError(e);
  return renderS3Error(e);
}

function route(req: IncomingMessage, url: URL, body: Buffer, rt: SandboxRuntime, queues: SandboxQueues): Routed {
  const method = req.method ?? 'GET';
  const path = url.pathname;
  const auth = req.headers.authorization;
  const target = req.headers['x-amz-target'];
  // KMS (issue 19) shares ECR's JSON 1.1 protocol; its targets are TrentService.*.
  if (method === 'POST' && path === '/' && typeof target === 'string' && target.startsWith(KMS_TARGET_PREFIX)) {
    const name = kmsOperationName(target);
    return { op: `kms:${name}`, protocol: 'json11', service: 'kms', input: parseEcrInput(body), run: () => handleKms(name, auth, body, rt) };
  }
  // SQS (AWS JSON 1.0) before ECR (JSON 1.1): both POST with an X-Amz-Target.
  if (method === 'POST' && typeof target === 'string' && target.startsWith(SQS_TARGET_PREFIX)) {
    const name = target.slice(SQS_TARGET_PREFIX.length);
    return {
      op: `sqs:${name}`,
      protocol: 'json10',
      service: 'sqs',
      input: parseEcrInput(body),
      run: () => queues.handle(name, auth, body),
      ...(name === 'ReceiveMessage' && { wait: () => queues.waitForMessages(body, auth) }),
    };
  }
  if (method === 'POST' && path === '/' && typeof target === 'string') {
    const name = ecrOperationName(target);
    return { op: `ecr:${name}`, protocol: 'json11', service: 'ecr', input: parseEcrInput(body), run: () => handleEcr(name, auth, body, rt) };
  }
  if (isStsRequest(method, path, req.headers['content-type'], body)) {
    return {
      op: `sts:${stsOperation(body)}`,
      protocol: 's3',
      service: 'sts',
      input: Object.fromEntries(new URLSearchParams(body.toString('utf8'))),
      run: () => handleSts(auth, body, new Date()),
    };
  }
  const inspectorOp = INSPECTOR_ROUTES[path];
  if (method === 'POST' && inspectorOp) {
    return {
      op: `inspector2:${inspectorOp}`,
      protocol: 'rest-json',
      service: 'inspector2',
      input: parseEcrInput(body),
      run: () => handleInspector(inspectorOp, auth, body, rt),
    };
  }
  if (method === 'GET' && path === '/revocations') {
    return { op: 'signer:GetRevocationStatus', protocol: 'rest-json', service: 'signer', input: signerInput(url), run: () => handleSigner(auth, url, rt) };
  }
  if (path === '/v2' || path.startsWith('/v2/')) {
    return {
      op: ociOperation(method, path),
      protocol: 'oci',
      service: 'ecr',
      input: { path, query: url.search },
      run: () => handleOci(method, url, req.headers, rt),
    };
  }
  if (path.startsWith('/layers/')) {
    const token = path.slice('/layers/'.length);
    return { op: `layer:${method}`, protocol: 's3', service: 's3', input: { token }, run: () => handleLayer(method, token, rt) };
  }
  return {
    op: `unknown:${method} ${path}`,
    protocol: 'rest-json',
    service: 'unknown',
    input: undefined,
    run: () => {
      throw new ApiError(404, 'UnknownOperationException', `No sandbox operation at ${method} ${path}`);
    },
  };
}

export async function startSandbox(opts: SandboxOptions): Promise<Sandbox> {
  let state = new SandboxState(structuredClone(opts.fixture));
  let latency: Latency = opts.latencyMs ?? 0;
  const faults = new FaultTable(opts.random);
  let log: CallRecord[] = [];
  const counts = new Map<string, number>();
  const pending = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  let closed = false;
  const queues = new SandboxQueues();

  const sleep = (ms: number): Promise<void> => {
    if (ms <= 0 || closed) return Promise.resolve();
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          pending.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      pending.add(entry);
    });
  };

  /** Waits until performance.now() reaches `until`: a Node timer can fire up to a millisecond
   *  early by that clock (it counts from the event loop's cached time), and a call must never
   *  take less than its latency. */
  const sleepUntil = async (until: number): Promise<void> => {
    for (let left = until - performance.now(); left > 0 && !closed; left = until - performance.now()) await sleep(Math.ceil(left));
  };

  // `rt` (below) needs the port, known once listening; no request is handled before it is set.
  const onRequest = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const arrived = performance.now();
    const url = new URL(req.url ?? '/', rt.baseUrl);
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch (e) {
      write(res, req, render('rest-json', e instanceof ApiError ? e : new ApiError(400, 'BadRequest', 'unreadable body')));
      return;
    }
    const routed = route(req, url, body, rt, queues);
    const accessKeyId = sigV4Scope(req.headers.authorization)?.accessKeyId;
    const record: CallRecord = { op: routed.op, at: Date.now(), status: 0, input: routed.input, ...(accessKeyId !== undefined && { accessKeyId }) };
    log.push(record);
    if (log.length > MAX_LOG) log = log.slice(-MAX_LOG / 2);
    counts.set(routed.op, (counts.get(routed.op) ?? 0) + 1);

    const answer = (): Outgoing => {
      try {
        return routed.run();
      } catch (e) {
        if (e instanceof ApiError) return render(routed.protocol, e);
        record.error = e instanceof Error ? (e.stack ?? e.message) : String(e);
        return render(routed.protocol, new ApiError(500, 'SandboxInternalError', `sandbox defect: ${e instanceof Error ? e.message : String(e)}`));
      }
    };
    // The injected latency is the whole call, as a real call's round trip includes AWS's own
    // work. The sandbox acts half-way through it (the request's way there; as AWS, it sees the
    // state and the faults of that moment, neither those of the request's arrival nor of its
    // answer's), answers, then waits what is left of the latency since the request arrived.
    // Waiting the whole latency and answering after made every call its latency plus the
    // sandbox's own work (about 1 ms of a loaded 2-core machine, issue 18: 6-8 ms over a cold
    // admission's chain of six 20 ms calls), charged to the webhook in bench/'s cold scenario.
    // A call that waits for messages (SQS ReceiveMessage) still answers after its wait.
    const latencyMs = typeof latency === 'function' ? latency(routed.op) : latency;
    await sleepUntil(arrived + latencyMs / 2);
    const fault = faults.take(routed.op);
    let out: Outgoing | undefined = !fault && !routed.wait ? answer() : undefined;
    await sleepUntil(arrived + latencyMs);
    if (fault?.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'slow') await sleep(fault.delayMs ?? 1000);
    if (!fault && routed.wait) await routed.wait();
    if (fault && fault.kind !== 'slow' && fault.kind !== 'malformed') {
      out = render(
        routed.protocol,
        routed.protocol === 'json10' ? sqsFaultError(fault.kind, routed.op) : faultError(routed.protocol, routed.service, routed.op, fault),
      );
    }
    out ??= answer();
    if (fault?.kind === 'malformed') out = { ...out, body: corrupt(out.body, out.headers['content-type']) };
    record.status = out.status;
    write(res, req, out);
  };

  const server = createServer((req, res) => {
    onRequest(req, res).catch((e: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        res.statusCode = 500;
        res.end(String(e));
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${urlHost(opts.host ?? '127.0.0.1')}:${port}`;
  const rt = new SandboxRuntime(url, () => state);
  queues.setBaseUrl(url);

  return {
    url,
    endpoints: () => ({
      AWS_ENDPOINT_URL_ECR: url,
      AWS_ENDPOINT_URL_INSPECTOR2: url,
      AWS_ENDPOINT_URL_SIGNER: url,
      AWS_ENDPOINT_URL_STS: url,
      AWS_ENDPOINT_URL_KMS: url,
      AWS_ENDPOINT_URL_SQS: url,
    }),
    queues,
    calls: (op) => {
      let n = 0;
      for (const [name, c] of counts) if (op === undefined || opMatches(op, name)) n += c;
      return n;
    },
    callLog: () => log.map((r) => ({ ...r })),
    resetCalls: () => {
      log = [];
      counts.clear();
    },
    inject: (op, fault) => faults.inject(op, fault),
    clearFaults: () => faults.clear(),
    setLatency: (ms) => {
      latency = ms;
    },
    update: (mutator) => {
      const next = structuredClone(state.fixture);
      mutator(next);
      state = new SandboxState(next);
    },
    close: async () => {
      closed = true;
      queues.close();
      for (const p of pending) {
        clearTimeout(p.timer);
        p.resolve();
      }
      pending.clear();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await done;
    },
  };
}

/** The host to put in URLs handed to clients: a wildcard bind is reached through loopback. */
function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

function write(res: ServerResponse, req: IncomingMessage, out: Outgoing): void {
  if (res.destroyed || res.writableEnded) return;
  const headers = { ...out.headers };
  if (req.method !== 'HEAD') headers['content-length'] = String(Buffer.byteLength(out.body));
  res.writeHead(out.status, headers);
  res.end(req.method === 'HEAD' ? undefined : out.body);
}
