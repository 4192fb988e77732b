// What the demo fleet is made of: the clouds with their list prices and the
// machine types each offers. Prices are on-demand USD list prices of 2024,
// split per core-hour, GiB-hour and (A100-class) GPU-hour the way GCP itemises
// them; they are realistic defaults, not quotes. Machine types are real
// instance types (spelt as the vendor does) with their vCPU, memory and GPUs.
import type { Arch, CloudSpec } from '../model/schema.ts';

export interface CloudDef {
  name: string;
  vendor: CloudSpec['vendor'];
  type: CloudSpec['type'];
  displayName: string;
  cpuCoreHour: number;
  memoryGiBHour: number;
  /** Per GPU-hour of an A100; other models are priced through GPU_PRICE_FACTOR. */
  gpuHour: number;
}

export const CLOUDS: readonly CloudDef[] = [
  {
    name: 'aws',
    vendor: 'aws',
    type: 'public',
    displayName: 'Amazon Web Services',
    cpuCoreHour: 0.0336,
    memoryGiBHour: 0.0045,
    gpuHour: 4.1,
  },
  {
    name: 'azure',
    vendor: 'azure',
    type: 'public',
    displayName: 'Microsoft Azure',
    cpuCoreHour: 0.0326,
    memoryGiBHour: 0.0044,
    gpuHour: 3.67,
  },
  {
    name: 'gcp',
    vendor: 'gcp',
    type: 'public',
    displayName: 'Google Cloud',
    cpuCoreHour: 0.0316,
    memoryGiBHour: 0.0042,
    gpuHour: 2.93,
  },
  {
    name: 'aliyun',
    vendor: 'aliyun',
    type: 'public',
    displayName: 'Alibaba Cloud',
    cpuCoreHour: 0.0255,
    memoryGiBHour: 0.0034,
    gpuHour: 2.6,
  },
  {
    name: 'huawei',
    vendor: 'huawei',
    type: 'public',
    displayName: 'Huawei Cloud',
    cpuCoreHour: 0.0245,
    memoryGiBHour: 0.0033,
    gpuHour: 2.5,
  },
  {
    name: 'tencent',
    vendor: 'tencent',
    type: 'public',
    displayName: 'Tencent Cloud',
    cpuCoreHour: 0.024,
    memoryGiBHour: 0.0032,
    gpuHour: 2.45,
  },
  {
    name: 'jdcloud',
    vendor: 'jdcloud',
    type: 'public',
    displayName: 'JD Cloud',
    cpuCoreHour: 0.0225,
    memoryGiBHour: 0.003,
    gpuHour: 2.35,
  },
  {
    name: 'oracle',
    vendor: 'oracle',
    type: 'public',
    displayName: 'Oracle Cloud Infrastructure',
    cpuCoreHour: 0.0125,
    memoryGiBHour: 0.0015,
    gpuHour: 3.05,
  },
  {
    name: 'ibm',
    vendor: 'ibm',
    type: 'public',
    displayName: 'IBM Cloud',
    cpuCoreHour: 0.0355,
    memoryGiBHour: 0.0047,
    gpuHour: 3.4,
  },
  {
    name: 'baidu',
    vendor: 'baidu',
    type: 'public',
    displayName: 'Baidu AI Cloud',
    cpuCoreHour: 0.0235,
    memoryGiBHour: 0.0032,
    gpuHour: 2.4,
  },
  // Private clouds: amortised hardware, power and operations per unit.
  {
    name: 'openstack',
    vendor: 'openstack',
    type: 'private',
    displayName: 'Private OpenStack',
    cpuCoreHour: 0.012,
    memoryGiBHour: 0.0016,
    gpuHour: 1.2,
  },
  {
    name: 'vmware',
    vendor: 'vmware',
    type: 'private',
    displayName: 'Private VMware vSphere',
    cpuCoreHour: 0.016,
    memoryGiBHour: 0.0021,
    gpuHour: 1.45,
  },
  // Edge: small sites near users cost more per unit than a region.
  {
    name: 'edge',
    vendor: 'edge',
    type: 'edge',
    displayName: 'Edge data centres',
    cpuCoreHour: 0.042,
    memoryGiBHour: 0.0056,
    gpuHour: 3.6,
  },
];

/** GPU-hour price of a model relative to an A100. */
export const GPU_PRICE_FACTOR: Readonly<Record<string, number>> = {
  H100: 1.7,
  A100: 1,
  V100: 0.75,
  A10: 0.3,
  A10G: 0.3,
  L4: 0.25,
  T4: 0.15,
};

export interface MachineType {
  /** The vendor's instance type or flavour name; also the `node.kubernetes.io/instance-type` label. */
  type: string;
  arch: Arch;
  cpu: number;
  memoryGiB: number;
  cpuModel: string;
  gpu?: number;
  gpuModel?: string;
}

export interface MachineCatalog {
  /** The x86-64 workhorse every cluster has. */
  general: MachineType;
  /** x86-64 memory-optimised; absent at the edge. */
  memory?: MachineType;
  arm?: MachineType;
  riscv?: MachineType;
  /** GPU machine types, most sought-after first. */
  gpus: MachineType[];
}

const m = (
  type: string,
  arch: Arch,
  cpu: number,
  memoryGiB: number,
  cpuModel: string,
  gpu?: [number, string],
): MachineType =>
  gpu === undefined
    ? { type, arch, cpu, memoryGiB, cpuModel }
    : { type, arch, cpu, memoryGiB, cpuModel, gpu: gpu[0], gpuModel: gpu[1] };

const ICE_LAKE = 'Intel Xeon Ice Lake';
const SAPPHIRE = 'Intel Xeon Sapphire Rapids';
const MILAN = 'AMD EPYC Milan';
const ALTRA = 'Ampere Altra';

export const MACHINES: Readonly<Record<string, MachineCatalog>> = {
  aws: {
    general: m('m6i.8xlarge', 'amd64', 32, 128, ICE_LAKE),
    memory: m('r6i.8xlarge', 'amd64', 32, 256, ICE_LAKE),
    arm: m('m7g.8xlarge', 'arm64', 32, 128, 'AWS Graviton3'),
    gpus: [
      m('p5.48xlarge', 'amd64', 192, 2048, 'AMD EPYC Milan', [8, 'H100']),
      m('p4d.24xlarge', 'amd64', 96, 1152, 'Intel Xeon Cascade Lake', [8, 'A100']),
      m('p3.16xlarge', 'amd64', 64, 488, 'Intel Xeon Broadwell', [8, 'V100']),
      m('g5.12xlarge', 'amd64', 48, 192, 'AMD EPYC Rome', [4, 'A10G']),
      m('g4dn.12xlarge', 'amd64', 48, 192, 'Intel Xeon Cascade Lake', [4, 'T4']),
    ],
  },
  azure: {
    general: m('Standard_D32s_v5', 'amd64', 32, 128, ICE_LAKE),
    memory: m('Standard_E32s_v5', 'amd64', 32, 256, ICE_LAKE),
    arm: m('Standard_D32ps_v5', 'arm64', 32, 128, ALTRA),
    gpus: [
      m('Standard_ND96isr_H100_v5', 'amd64', 96, 1900, SAPPHIRE, [8, 'H100']),
      m('Standard_ND96asr_v4', 'amd64', 96, 900, 'AMD EPYC Rome', [8, 'A100']),
      m('Standard_NC24s_v3', 'amd64', 24, 448, 'Intel Xeon Broadwell', [4, 'V100']),
      m('Standard_NV36ads_A10_v5', 'amd64', 36, 440, MILAN, [1, 'A10']),
      m('Standard_NC64as_T4_v3', 'amd64', 64, 440, 'AMD EPYC Rome', [4, 'T4']),
    ],
  },
  gcp: {
    general: m('n2-standard-32', 'amd64', 32, 128, ICE_LAKE),
    memory: m('n2-highmem-32', 'amd64', 32, 256, ICE_LAKE),
    arm: m('t2a-standard-32', 'arm64', 32, 128, ALTRA),
    gpus: [
      m('a3-highgpu-8g', 'amd64', 208, 1872, SAPPHIRE, [8, 'H100']),
      m('a2-highgpu-8g', 'amd64', 96, 680, 'Intel Xeon Cascade Lake', [8, 'A100']),
      m('n1-standard-64-v100x8', 'amd64', 64, 240, 'Intel Xeon Skylake', [8, 'V100']),
      m('g2-standard-48', 'amd64', 48, 192, 'Intel Xeon Cascade Lake', [4, 'L4']),
      m('n1-standard-32-t4x4', 'amd64', 32, 120, 'Intel Xeon Skylake', [4, 'T4']),
    ],
  },
  aliyun: {
    general: m('ecs.g7.8xlarge', 'amd64', 32, 128, ICE_LAKE),
    memory: m('ecs.r7.8xlarge', 'amd64', 32, 256, ICE_LAKE),
    arm: m('ecs.g8y.8xlarge', 'arm64', 32, 128, 'Alibaba Yitian 710'),
    gpus: [
      m('ecs.gn7e-c16g1.32xlarge', 'amd64', 128, 1024, ICE_LAKE, [8, 'A100']),
      m('ecs.gn6v-c8g1.16xlarge', 'amd64', 64, 256, 'Intel Xeon Skylake', [8, 'V100']),
      m('ecs.gn7i-c32g1.32xlarge', 'amd64', 128, 752, ICE_LAKE, [4, 'A10']),
      m('ecs.gn6i-c24g1.24xlarge', 'amd64', 96, 372, 'Intel Xeon Cascade Lake', [4, 'T4']),
    ],
  },
  huawei: {
    general: m('c7.8xlarge.4', 'amd64', 32, 128, ICE_LAKE),
    memory: m('m7.8xlarge.8', 'amd64', 32, 256, ICE_LAKE),
    arm: m('kc1.8xlarge.4', 'arm64', 32, 128, 'Huawei Kunpeng 920'),
    gpus: [
      m('p3.16xlarge.8', 'amd64', 64, 512, ICE_LAKE, [8, 'A100']),
      m('p2s.16xlarge.8', 'amd64', 64, 512, 'Intel Xeon Cascade Lake', [8, 'V100']),
      m('pi2.8xlarge.4', 'amd64', 32, 128, 'Intel Xeon Cascade Lake', [2, 'T4']),
    ],
  },
  tencent: {
    general: m('S6.8XLARGE128', 'amd64', 32, 128, ICE_LAKE),
    memory: m('M6.8XLARGE256', 'amd64', 32, 256, ICE_LAKE),
    arm: m('SR1.8XLARGE128', 'arm64', 32, 128, ALTRA),
    gpus: [
      m('GT4.41XLARGE948', 'amd64', 164, 948, 'AMD EPYC Rome', [8, 'A100']),
      m('GN10Xp.20XLARGE320', 'amd64', 80, 320, 'Intel Xeon Cascade Lake', [8, 'V100']),
      m('GN7.20XLARGE320', 'amd64', 80, 320, 'Intel Xeon Cascade Lake', [4, 'T4']),
    ],
  },
  jdcloud: {
    general: m('g.n4.8xlarge', 'amd64', 32, 128, ICE_LAKE),
    memory: m('m.n4.8xlarge', 'amd64', 32, 256, ICE_LAKE),
    gpus: [
      m('p.n4a100.32xlarge', 'amd64', 128, 1024, ICE_LAKE, [8, 'A100']),
      m('p.n2v100.16xlarge', 'amd64', 64, 256, 'Intel Xeon Skylake', [8, 'V100']),
      m('g.n3t4.8xlarge', 'amd64', 32, 128, 'Intel Xeon Cascade Lake', [1, 'T4']),
    ],
  },
  oracle: {
    general: m('VM.Standard.E4.Flex', 'amd64', 32, 128, MILAN),
    memory: m('VM.Standard3.Flex', 'amd64', 32, 512, ICE_LAKE),
    arm: m('VM.Standard.A1.Flex', 'arm64', 32, 192, ALTRA),
    gpus: [
      m('BM.GPU.H100.8', 'amd64', 224, 2048, SAPPHIRE, [8, 'H100']),
      m('BM.GPU4.8', 'amd64', 128, 2048, 'AMD EPYC Rome', [8, 'A100']),
      m('BM.GPU3.8', 'amd64', 104, 768, 'Intel Xeon Skylake', [8, 'V100']),
      m('VM.GPU.A10.2', 'amd64', 60, 480, ICE_LAKE, [2, 'A10']),
    ],
  },
  ibm: {
    general: m('bx2-32x128', 'amd64', 32, 128, 'Intel Xeon Cascade Lake'),
    memory: m('mx2-32x256', 'amd64', 32, 256, 'Intel Xeon Cascade Lake'),
    gpus: [
      m('gx3d-160x1792x8h100', 'amd64', 160, 1792, SAPPHIRE, [8, 'H100']),
      m('gx2-32x256x2v100', 'amd64', 32, 256, 'Intel Xeon Cascade Lake', [2, 'V100']),
      m('gx3-16x80x1l4', 'amd64', 16, 80, SAPPHIRE, [1, 'L4']),
    ],
  },
  baidu: {
    general: m('bcc.g5.c32m128', 'amd64', 32, 128, ICE_LAKE),
    memory: m('bcc.m5.c32m256', 'amd64', 32, 256, ICE_LAKE),
    gpus: [
      m('bcc.lgn5.c96m1024.8a100', 'amd64', 96, 1024, ICE_LAKE, [8, 'A100']),
      m('bcc.gn3.c48m384.8v100', 'amd64', 48, 384, 'Intel Xeon Skylake', [8, 'V100']),
      m('bcc.gn5.c48m192.4t4', 'amd64', 48, 192, 'Intel Xeon Cascade Lake', [4, 'T4']),
    ],
  },
  openstack: {
    general: m('bm.x86.64c256g', 'amd64', 64, 256, 'Intel Xeon Platinum 8358'),
    memory: m('bm.x86.64c512g', 'amd64', 64, 512, 'Intel Xeon Platinum 8358'),
    arm: m('bm.kunpeng920.128c512g', 'arm64', 128, 512, 'Huawei Kunpeng 920'),
    riscv: m('bm.sg2042.64c128g', 'riscv64', 64, 128, 'Sophgo SG2042'),
    gpus: [
      m('bm.gpu.h100x8', 'amd64', 192, 2048, SAPPHIRE, [8, 'H100']),
      m('bm.gpu.a100x8', 'amd64', 128, 1024, ICE_LAKE, [8, 'A100']),
    ],
  },
  vmware: {
    general: m('vsphere.large-32c128g', 'amd64', 32, 128, ICE_LAKE),
    memory: m('vsphere.mem-32c256g', 'amd64', 32, 256, ICE_LAKE),
    gpus: [
      m('vsphere.gpu-a10-32c128g', 'amd64', 32, 128, ICE_LAKE, [1, 'A10']),
      m('vsphere.gpu-t4-16c64g', 'amd64', 16, 64, ICE_LAKE, [1, 'T4']),
    ],
  },
  edge: {
    general: m('edge.x86-16c64g', 'amd64', 16, 64, 'Intel Xeon D-2700'),
    arm: m('edge.arm-32c128g', 'arm64', 32, 128, 'Ampere Altra Q32-17'),
    riscv: m('edge.riscv-4c8g', 'riscv64', 4, 8, 'StarFive JH7110'),
    gpus: [m('edge.gpu-t4-16c64g', 'amd64', 16, 64, 'Intel Xeon D-2700', [1, 'T4'])],
  },
};
