// From an Application resource to the scheduler's request: one ComponentRequest
// per component with its requests in scheduler units (millicores, MiB, GPUs).
import { parseCpuMillis, parseMemoryBytes } from '../model/quantity.ts';
import type { Application, Arch, Component } from '../model/schema.ts';
import type { PodRequest } from './nodestate.ts';
import type { AppRequest, ComponentRequest } from './types.ts';

const MiB = 1024 * 1024;

/** Without `platforms` an image is taken to be amd64-only: never guess that it runs on ARM or RISC-V. */
export function componentArchitectures(c: Component): Arch[] {
  const archs = (c.platforms ?? ['linux/amd64']).map((p) => p.split('/')[1] as Arch);
  return [...new Set(archs)];
}

/**
 * A GPU amount as devices: below 1 it is a share of one GPU (0.5 = 500
 * milli-GPUs); 1 or more is that many whole GPUs, rounded up.
 */
export function gpuDemand(gpu: number): { gpuCount: number; gpuMilli: number } {
  if (!(gpu > 0)) return { gpuCount: 0, gpuMilli: 0 };
  if (gpu < 1) return { gpuCount: 1, gpuMilli: Math.max(1, Math.round(gpu * 1000)) };
  return { gpuCount: Math.ceil(gpu), gpuMilli: 1000 };
}

/** What one replica asks of a node, from workload-style units (millicores, bytes, GPUs). */
export function podRequest(
  cpuMillis: number,
  memoryBytes: number,
  gpu: number,
  gpuModel: string | undefined,
  architectures: Arch[],
): PodRequest {
  const pod: PodRequest = {
    cpuMilli: cpuMillis,
    memoryMiB: memoryBytes / MiB,
    ...gpuDemand(gpu),
    architectures,
  };
  if (gpuModel !== undefined) pod.gpuModel = gpuModel;
  return pod;
}

/**
 * A component's request; with `reservedCpuMillis` (placement.colocation) the
 * replica is placed by that predicted use instead of its cpu request.
 */
export function componentRequest(c: Component, reservedCpuMillis?: number): ComponentRequest {
  const res = c.resources;
  return {
    ...(reservedCpuMillis !== undefined ? { usage: { cpuMilli: reservedCpuMillis } } : {}),
    name: c.name,
    replicas: c.replicas,
    pod: podRequest(
      requestedCpuMillis(c),
      res?.memory !== undefined ? parseMemoryBytes(res.memory) : 0,
      res?.gpu ?? 0,
      res?.gpuModel,
      componentArchitectures(c),
    ),
  };
}

/** The scheduler's request for an app; `current` is what runs now (component -> cluster -> replicas). */
export function appRequest(
  app: Application,
  current?: Readonly<Record<string, Readonly<Record<string, number>>>>,
): AppRequest {
  const req: AppRequest = {
    name: `${app.metadata.namespace ?? 'default'}/${app.metadata.name}`,
    components: app.spec.components.map((c) => componentRequest(c, colocationReservation(app, c))),
  };
  if (app.spec.placement !== undefined) req.placement = app.spec.placement;
  if (current !== undefined) req.current = current;
  return req;
}

/**
 * What each replica of a colocated component reserves: the reservation the
 * app's status has learnt, its cpu request until then; undefined for an app
 * that is not colocated.
 */
export function colocationReservation(app: Application, c: Component): number | undefined {
  if (app.spec.placement?.colocation === undefined) return undefined;
  const learnt = app.status?.colocation?.components.find((x) => x.component === c.name);
  if (learnt !== undefined) return learnt.reservedCpuMillis;
  return requestedCpuMillis(c);
}

/** The component's cpu request in millicores (0 when it asks for none). */
export function requestedCpuMillis(c: Component): number {
  return c.resources?.cpu !== undefined ? parseCpuMillis(c.resources.cpu) : 0;
}
