// The election logic against an in-memory Lease store that enforces what the API server does
// for it: create fails on an existing name (409), replace fails unless the resourceVersion given
// is the current one (409). The real API server's Lease is exercised in the e2e scenario.
import t from 'tap';
import { LeaderElector, checkTiming, type LeasePort, type LeaseRecord } from '../../src/controller/lease.ts';

class LeaseStore {
  record?: LeaseRecord;
  version = 0;
  down = false;
  writes = 0;
  port(): LeasePort {
    return {
      get: () =>
        this.down ? Promise.reject(new Error('connection refused')) : Promise.resolve(this.record && { ...this.record, resourceVersion: String(this.version) }),
      create: (r) => {
        if (this.down) return Promise.reject(new Error('connection refused'));
        if (this.record) return Promise.resolve(false);
        this.record = { ...r };
        this.version++;
        this.writes++;
        return Promise.resolve(true);
      },
      replace: (r) => {
        if (this.down) return Promise.reject(new Error('connection refused'));
        if (!this.record || r.resourceVersion !== String(this.version)) return Promise.resolve(false);
        this.record = { ...r };
        this.version++;
        this.writes++;
        return Promise.resolve(true);
      },
    };
  }
}

const timing = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

function candidate(store: LeaseStore, identity: string, clock: { now: number }) {
  const log: string[] = [];
  const elector = new LeaderElector({
    port: store.port(),
    identity,
    timing,
    now: () => clock.now,
    onStartedLeading: () => log.push('started'),
    onStoppedLeading: () => {
      log.push('stopped');
    },
  });
  return { elector, log };
}

t.test('the first candidate acquires; a second waits while the lease is renewed', async (t) => {
  const store = new LeaseStore();
  const clock = { now: 1_000_000 };
  const a = candidate(store, 'a', clock);
  const b = candidate(store, 'b', clock);
  await a.elector.step();
  t.equal(store.record?.holder, 'a');
  t.same(a.log, ['started']);
  for (let i = 0; i < 20; i++) {
    clock.now += 2000;
    await a.elector.step();
    await b.elector.step();
  }
  t.equal(store.record?.holder, 'a', 'renewed every retry period, never taken');
  t.equal(b.elector.leading, false);
  t.equal(store.record?.leaseTransitions, 0);
});

t.test('a standby takes over once the lease has not changed for its duration (by its own clock)', async (t) => {
  const store = new LeaseStore();
  const clock = { now: 1_000_000 };
  const a = candidate(store, 'a', clock);
  const b = candidate(store, 'b', clock);
  await a.elector.step();
  // Skewed renewTime: b must go by when it SAW the record change, not by the holder's clock.
  store.record = { ...store.record!, renewTime: new Date(0) };
  store.version++;
  await b.elector.step();
  t.equal(b.elector.leading, false, 'a renewTime in the past alone does not make it expired');
  clock.now += 14_000;
  await b.elector.step();
  t.equal(b.elector.leading, false, 'not before the duration');
  clock.now += 1_000;
  await b.elector.step();
  t.equal(b.elector.leading, true, 'taken when a stopped renewing');
  t.equal(store.record?.holder, 'b');
  t.equal(store.record?.leaseTransitions, 1);
});

t.test('two candidates racing for an expired lease: one replace wins, the other conflicts', async (t) => {
  const store = new LeaseStore();
  const clock = { now: 1_000_000 };
  store.record = { holder: 'old', leaseDurationSeconds: 15, leaseTransitions: 3 };
  const b = candidate(store, 'b', clock);
  const c = candidate(store, 'c', clock);
  await Promise.all([b.elector.step(), c.elector.step()]);
  clock.now += 16_000;
  await Promise.all([b.elector.step(), c.elector.step()]);
  t.equal([b.elector.leading, c.elector.leading].filter(Boolean).length, 1, 'exactly one leader');
  t.equal(store.record?.leaseTransitions, 4);
});

t.test('a leader that cannot renew steps down at the renew deadline', async (t) => {
  const store = new LeaseStore();
  const clock = { now: 1_000_000 };
  const a = candidate(store, 'a', clock);
  await a.elector.step();
  store.down = true;
  clock.now += 8_000;
  await a.elector.step();
  t.equal(a.elector.leading, true, 'still within the deadline');
  clock.now += 2_000;
  await a.elector.step();
  t.equal(a.elector.leading, false, 'stepped down');
  t.same(a.log, ['started', 'stopped']);
});

t.test('stop() releases the lease: a standby acquires at once', async (t) => {
  const store = new LeaseStore();
  const clock = { now: 1_000_000 };
  const a = candidate(store, 'a', clock);
  const b = candidate(store, 'b', clock);
  await a.elector.step();
  await b.elector.step();
  await a.elector.stop();
  t.equal(store.record?.holder, '', 'holder emptied');
  t.same(a.log, ['started', 'stopped']);
  await b.elector.step();
  t.equal(b.elector.leading, true, 'no wait for the duration');
});

t.test('inconsistent timings are refused', async (t) => {
  t.match(checkTiming({ leaseDurationMs: 10_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 }), /leaseDuration/);
  t.match(checkTiming({ leaseDurationMs: 15_000, renewDeadlineMs: 1000, retryPeriodMs: 2000 }), /renewDeadline/);
  t.equal(checkTiming(timing), undefined);
});
