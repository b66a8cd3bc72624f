// The objects the scenarios create: a Pod and the workloads that make Pods, each with one
// container "app" (plus optional init containers), as a developer would write them.
import type { V1CronJob, V1Deployment, V1Pod, V1PodSpec, V1StatefulSet } from '@kubernetes/client-node';
import { stringify } from 'yaml';

export interface SpecOptions {
  /** Images of init containers, named init-0, init-1, ... */
  initImages?: string[];
}

function podSpec(image: string, opts: SpecOptions = {}): V1PodSpec {
  return {
    ...(opts.initImages && { initContainers: opts.initImages.map((img, i) => ({ name: `init-${i}`, image: img })) }),
    containers: [{ name: 'app', image }],
  };
}

export function pod(name: string, image: string, opts: SpecOptions = {}): V1Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: podSpec(image, opts) };
}

export function deployment(name: string, image: string, opts: SpecOptions = {}): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: podSpec(image, opts) },
    },
  };
}

export function statefulSet(name: string, image: string, opts: SpecOptions = {}): V1StatefulSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name },
    spec: {
      serviceName: name,
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: podSpec(image, opts) },
    },
  };
}

export function cronJob(name: string, image: string, opts: SpecOptions = {}): V1CronJob {
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name },
    spec: {
      schedule: '*/5 * * * *',
      jobTemplate: { spec: { template: { spec: { ...podSpec(image, opts), restartPolicy: 'OnFailure' } } } },
    },
  };
}

/** YAML for `kubectl apply -f -`, in a namespace. */
export function manifest(object: { metadata?: { name?: string } }, namespace: string): string {
  return stringify({ ...object, metadata: { ...object.metadata, namespace } });
}
