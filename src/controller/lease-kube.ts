// The LeasePort on the API server: one named coordination.k8s.io/v1 Lease in the controller's
// own namespace (the chart's Role grants get/create/update on leases there only).
import { ApiException, CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { LeasePort, LeaseRecord } from './lease.ts';

const isStatus = (err: unknown, code: number) => err instanceof ApiException && err.code === code;

function toRecord(lease: V1Lease): LeaseRecord {
  const spec = lease.spec ?? {};
  return {
    ...(spec.holderIdentity !== undefined && { holder: spec.holderIdentity }),
    leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
    ...(spec.acquireTime !== undefined && { acquireTime: new Date(spec.acquireTime) }),
    ...(spec.renewTime !== undefined && { renewTime: new Date(spec.renewTime) }),
    leaseTransitions: spec.leaseTransitions ?? 0,
    ...(lease.metadata?.resourceVersion !== undefined && { resourceVersion: lease.metadata.resourceVersion }),
  };
}

export function kubeLeasePort(kubeConfig: KubeConfig, namespace: string, name: string): LeasePort {
  const api = kubeConfig.makeApiClient(CoordinationV1Api);
  const body = (record: LeaseRecord): V1Lease => ({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace, ...(record.resourceVersion !== undefined && { resourceVersion: record.resourceVersion }) },
    spec: {
      holderIdentity: record.holder ?? '',
      leaseDurationSeconds: record.leaseDurationSeconds,
      // MicroTime: the API server takes exactly six fractional digits (a plain Date sends three).
      ...(record.acquireTime !== undefined && { acquireTime: new V1MicroTime(record.acquireTime.getTime()) }),
      ...(record.renewTime !== undefined && { renewTime: new V1MicroTime(record.renewTime.getTime()) }),
      leaseTransitions: record.leaseTransitions,
    },
  });
  return {
    async get() {
      try {
        return toRecord(await api.readNamespacedLease({ name, namespace }));
      } catch (err) {
        if (isStatus(err, 404)) return undefined;
        throw err;
      }
    },
    async create(record) {
      try {
        await api.createNamespacedLease({ namespace, body: body(record) });
        return true;
      } catch (err) {
        if (isStatus(err, 409)) return false;
        throw err;
      }
    },
    async replace(record) {
      try {
        await api.replaceNamespacedLease({ name, namespace, body: body(record) });
        return true;
      } catch (err) {
        if (isStatus(err, 409)) return false;
        throw err;
      }
    },
  };
}
