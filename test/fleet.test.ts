// The demo fleet generator, the Alibaba-shaped data centre, fleet files and
// fleet totals.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { stringify } from 'yaml';
import {
  DEFAULT_ALIBABA_MACHINE_META,
  fleetSummary,
  formatFleetSummary,
  generateDemoFleet,
  loadFleetFile,
  scaleForCores,
  validateFleet,
} from '../src/fleet/index.ts';
import { BadRequestError, NotFoundError, ValidationError } from '../src/model/errors.ts';
import { validateResource } from '../src/model/validate.ts';

const haveTrace = existsSync(DEFAULT_ALIBABA_MACHINE_META);
const tmp = mkdtempSync(join(tmpdir(), 'yunjian-fleet-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

void describe('generateDemoFleet', () => {
  const fleet = generateDemoFleet({ alibabaMachineMetaPath: false });

  void test('every document is a valid resource and the fleet is consistent', () => {
    for (const doc of [...fleet.clouds, ...fleet.sites, ...fleet.clusters])
      validateResource(doc, 'generated');
    validateFleet(fleet);
  });

  void test('ten public vendors, private OpenStack and VMware, and an edge cloud', () => {
    const clouds = new Map(fleet.clouds.map((c) => [c.metadata.name, c.spec]));
    for (const v of [
      'aws',
      'azure',
      'gcp',
      'aliyun',
      'huawei',
      'tencent',
      'jdcloud',
      'oracle',
      'ibm',
      'baidu',
    ]) {
      assert.equal(clouds.get(v)?.type, 'public', v);
      assert.ok(clouds.get(v)?.displayName);
      const p = clouds.get(v)?.prices;
      assert.ok(p?.cpuCoreHour && p.memoryGiBHour && p.gpuHour, `${v} has prices`);
    }
    assert.equal(clouds.get('openstack')?.type, 'private');
    assert.equal(clouds.get('vmware')?.type, 'private');
    assert.equal(clouds.get('edge')?.type, 'edge');
    assert.ok(fleet.clouds.length >= 12);
  });

  void test('72 large sites in real regions and 100 edge sites', () => {
    const large = fleet.sites.filter((s) => s.spec.kind !== 'edge');
    const edge = fleet.sites.filter((s) => s.spec.kind === 'edge');
    assert.equal(large.length, 72);
    assert.equal(edge.length, 100);
    assert.equal(new Set(fleet.sites.map((s) => s.metadata.name)).size, fleet.sites.length);
    const bySite = new Map(fleet.sites.map((s) => [s.metadata.name, s]));
    const awsEast = bySite.get('aws-us-east-1')?.spec;
    assert.deepEqual(
      [awsEast?.region, awsEast?.city, awsEast?.country],
      ['us-east-1', 'Ashburn', 'US'],
    );
    const hangzhou = bySite.get('aliyun-cn-hangzhou')?.spec;
    assert.deepEqual([hangzhou?.city, hangzhou?.country], ['Hangzhou', 'CN']);
    assert.ok(Math.abs((hangzhou?.latitude ?? 0) - 30.27) < 0.5);
    assert.ok(new Set(large.map((s) => s.spec.cloud)).size >= 12);
  });

  void test('each site has 1-3 clusters named after it, in its zones', () => {
    const perSite = new Map<string, number>();
    for (const c of fleet.clusters) {
      perSite.set(c.spec.site, (perSite.get(c.spec.site) ?? 0) + 1);
      assert.ok(c.metadata.name.startsWith(`${c.spec.site}-`), c.metadata.name);
      for (const l of ['tier', 'region', 'arch'])
        assert.ok(c.metadata.labels?.[l], `${c.metadata.name} has label ${l}`);
    }
    for (const s of fleet.sites) {
      const n = perSite.get(s.metadata.name) ?? 0;
      assert.ok(n >= 1 && n <= 3, `${s.metadata.name} has ${n} clusters`);
    }
    assert.ok(
      fleet.clusters.some(
        (c) => c.metadata.name === 'aws-us-east-1-a' && c.spec.zone === 'us-east-1a',
      ),
    );
  });

  void test('a mix of architectures, GPU models and tainted edge clusters', () => {
    const s = fleetSummary(fleet);
    assert.ok(
      s.coresByArch.amd64 > s.coresByArch.arm64 &&
        s.coresByArch.arm64 > s.coresByArch.riscv64 &&
        s.coresByArch.riscv64 > 0,
    );
    for (const m of ['A100', 'H100', 'V100', 'T4'])
      assert.ok((s.gpusByModel[m] ?? 0) > 0, `has ${m}`);
    const edge = fleet.clusters.filter((c) => c.spec.cloud === 'edge');
    const tainted = edge.filter((c) =>
      c.spec.taints?.some((t) => t.key === 'edge' && t.effect === 'NoSchedule'),
    );
    assert.ok(tainted.length > 0 && tainted.length < edge.length);
    const pools = fleet.clusters.flatMap((c) => c.spec.driver.sim?.nodePools ?? []);
    assert.ok(pools.some((p) => p.labels?.['yunjian.io/cpu-model'] === 'AWS Graviton3'));
    assert.ok(pools.some((p) => p.arch === 'riscv64'));
  });

  void test('prices carry the region multiplier', () => {
    const price = (name: string) =>
      fleet.clusters.find((c) => c.metadata.name === name)?.spec.prices?.cpuCoreHour ?? 0;
    assert.ok(price('aws-sa-east-1-a') > price('aws-us-east-1-a'));
  });

  void test('default scale is a demo fleet of 100k-300k cores; scale multiplies it', () => {
    const one = fleetSummary(fleet);
    assert.ok(one.cores >= 100_000 && one.cores <= 300_000, `cores ${one.cores}`);
    const two = fleetSummary(generateDemoFleet({ scale: 2, alibabaMachineMetaPath: false }));
    assert.equal(two.cores, 2 * one.cores);
    assert.equal(two.clusters, one.clusters);
    const target = 1_000_000;
    const scaled = fleetSummary(
      generateDemoFleet({ scale: scaleForCores(target), alibabaMachineMetaPath: false }),
    ).cores;
    assert.ok(
      scaled >= target && scaled < target * 1.02,
      `scaleForCores(${target}) gives ${scaled}`,
    );
  });

  void test('deterministic for a seed', () => {
    assert.deepEqual(generateDemoFleet({ alibabaMachineMetaPath: false }), fleet);
    assert.notDeepEqual(
      generateDemoFleet({ seed: 7, alibabaMachineMetaPath: false }).clusters,
      fleet.clusters,
    );
  });

  void test('bad options are rejected', () => {
    assert.throws(() => generateDemoFleet({ scale: 0 }), BadRequestError);
    assert.throws(() => generateDemoFleet({ seed: 1.5 }), BadRequestError);
  });
});

void describe('the Alibaba-shaped data centre', () => {
  void test('a missing file is skipped with a note', () => {
    const fleet = generateDemoFleet({ alibabaMachineMetaPath: join(tmp, 'absent.csv') });
    assert.equal(fleet.sites.filter((s) => s.spec.kind !== 'edge').length, 72);
    assert.match(fleet.notes.join('\n'), /machine_meta\.csv not found at .*absent\.csv/);
  });

  void test('a malformed file is an error', () => {
    const path = join(tmp, 'bad.csv');
    writeFileSync(
      path,
      'machine_id,failure_domain_1,failure_domain_2,cpu_num,mem_size_norm\nm_1,1,2,ninety,100\n',
    );
    assert.throws(
      () => generateDemoFleet({ alibabaMachineMetaPath: path }),
      /bad\.csv:2: expected/,
    );
  });

  void test('clusters are failure domains and pools are machine shapes', () => {
    const path = join(tmp, 'meta.csv');
    writeFileSync(
      path,
      [
        'machine_id,failure_domain_1,failure_domain_2,cpu_num,mem_size_norm',
        'm_1,10,2,96,100',
        'm_2,11,2,96,100',
        'm_3,12,2,64,50',
        'm_4,13,1,96,100',
        '',
      ].join('\n'),
    );
    const fleet = generateDemoFleet({ alibabaMachineMetaPath: path });
    const dc = fleet.clusters.filter((c) => c.spec.site === 'openstack-dc-hangzhou');
    assert.deepEqual(
      dc.map((c) => [
        c.metadata.name,
        c.spec.zone,
        c.metadata.annotations?.['yunjian.io/racks'],
        c.spec.driver.sim?.nodePools.map((p) => [p.name, p.count, p.cpu, p.memory]),
      ]),
      [
        [
          'openstack-dc-hangzhou-fd1',
          'dc-hangzhou-fd1',
          '1',
          [['alibaba-2018-96c512g', 1, 96, '512Gi']],
        ],
        [
          'openstack-dc-hangzhou-fd2',
          'dc-hangzhou-fd2',
          '3',
          [
            ['alibaba-2018-96c512g', 2, 96, '512Gi'],
            ['alibaba-2018-64c256g', 1, 64, '256Gi'],
          ],
        ],
      ],
    );
    validateFleet(fleet);
  });

  void test(
    'the real trace: 4,034 machines in 20 clusters',
    { skip: haveTrace ? false : `no ${DEFAULT_ALIBABA_MACHINE_META}` },
    () => {
      const fleet = generateDemoFleet({ scale: 3 });
      const dc = fleet.clusters.filter((c) => c.spec.site === 'openstack-dc-hangzhou');
      assert.equal(dc.length, 20);
      const s = fleetSummary({ clouds: [], sites: [], clusters: dc });
      assert.equal(s.nodes, 4034);
      assert.equal(s.cores, 4034 * 96, 'real node counts, not scaled');
      assert.equal(fleet.sites.filter((x) => x.spec.kind !== 'edge').length, 73);
      for (const c of dc) validateResource(c);
      validateFleet(fleet);
    },
  );
});

void describe('fleet files', () => {
  const write = (name: string, text: string) => {
    const path = join(tmp, name);
    writeFileSync(path, text);
    return path;
  };
  const cloud = {
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Cloud',
    metadata: { name: 'lab' },
    spec: { vendor: 'baremetal', type: 'private' },
  };
  const site = {
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Site',
    metadata: { name: 'lab-1' },
    spec: {
      cloud: 'lab',
      kind: 'datacenter',
      country: 'DE',
      city: 'Berlin',
      latitude: 52.5,
      longitude: 13.4,
      zones: ['z1'],
    },
  };
  const cluster = {
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Cluster',
    metadata: { name: 'lab-1-a' },
    spec: {
      cloud: 'lab',
      site: 'lab-1',
      zone: 'z1',
      driver: {
        type: 'sim',
        sim: { nodePools: [{ name: 'x86', count: 4, arch: 'amd64', cpu: '16', memory: '64Gi' }] },
      },
    },
  };
  const multi = (...docs: unknown[]) => docs.map((d) => stringify(d)).join('---\n');

  void test('a multi-document YAML file loads into clouds, sites and clusters', () => {
    const docs = loadFleetFile(write('ok.yaml', `${multi(cloud, site, cluster)}---\n`));
    assert.deepEqual([docs.clouds.length, docs.sites.length, docs.clusters.length], [1, 1, 1]);
    assert.equal(fleetSummary(docs).cores, 64);
  });

  void test('the generated fleet round-trips through YAML', () => {
    const fleet = generateDemoFleet({ alibabaMachineMetaPath: false, scale: 0.5 });
    const { notes: _notes, ...docs } = fleet;
    const path = write('demo.yaml', multi(...docs.clouds, ...docs.sites, ...docs.clusters));
    assert.deepEqual(loadFleetFile(path), docs);
  });

  void test('invalid documents report the document and the field', () => {
    const bad = { ...cluster, spec: { ...cluster.spec, zone: 'Z 1' } };
    assert.throws(
      () => loadFleetFile(write('bad.yaml', multi(cloud, site, bad))),
      (e: unknown) =>
        e instanceof ValidationError &&
        /bad\.yaml document 3 Cluster "lab-1-a"/.test(e.message) &&
        e.causes.some((c) => c.field === 'spec.zone'),
    );
  });

  void test('references must resolve within the file', () => {
    const stray = {
      ...cluster,
      metadata: { name: 'stray' },
      spec: { ...cluster.spec, site: 'lab-2', cloud: 'other' },
    };
    const wrongZone = {
      ...cluster,
      metadata: { name: 'wrong-zone' },
      spec: { ...cluster.spec, zone: 'z9' },
    };
    assert.throws(
      () =>
        loadFleetFile(write('refs.yaml', multi(cloud, site, cluster, cluster, stray, wrongZone))),
      (e: unknown) => {
        assert.ok(e instanceof ValidationError);
        assert.deepEqual(
          e.causes.map((c) => c.field),
          [
            'Cluster lab-1-a: metadata.name',
            'Cluster stray: spec.cloud',
            'Cluster stray: spec.site',
            'Cluster wrong-zone: spec.zone',
          ],
        );
        return true;
      },
    );
  });

  void test('other kinds, YAML errors and missing files are refused', () => {
    const app = {
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'Application',
      metadata: { name: 'shop' },
      spec: { components: [{ name: 'web', image: 'web:1', replicas: 1 }] },
    };
    assert.throws(
      () => loadFleetFile(write('app.yaml', multi(app))),
      /expected Cloud, Site or Cluster in a fleet file, got Application/,
    );
    assert.throws(() => loadFleetFile(write('broken.yaml', 'kind: [Cloud\n')), BadRequestError);
    assert.throws(
      () =>
        loadFleetFile(
          write('twice.yaml', `---\n${multi(cloud)}---\nkind: Site\nspec: {a: 1, a: 2}\n`),
        ),
      /document 2 \(line \d+, column 14\): duplicate key spec\.a/,
    );
    assert.throws(() => loadFleetFile(join(tmp, 'nope.yaml')), NotFoundError);
  });
});

void test('fleetSummary counts nodes, cores by architecture and GPUs', () => {
  const fleet = generateDemoFleet({ alibabaMachineMetaPath: false });
  const s = fleetSummary(fleet);
  assert.equal(s.clouds, 13);
  assert.equal(s.sites, 172);
  assert.equal(s.sitesByKind.edge, 100);
  assert.equal(s.cores, s.coresByArch.amd64 + s.coresByArch.arm64 + s.coresByArch.riscv64);
  assert.equal(s.nodes, s.nodesByArch.amd64 + s.nodesByArch.arm64 + s.nodesByArch.riscv64);
  assert.equal(
    s.gpus,
    Object.values(s.gpusByModel).reduce((a, b) => a + b, 0),
  );
  assert.match(
    formatFleetSummary(s),
    /^13 clouds, 172 sites \(69 regions, 3 data centres, 100 edge\), \d+ clusters, [\d,]+ nodes, [\d,]+ cores \(amd64 [\d,]+, arm64 [\d,]+, riscv64 [\d,]+\), .* GPUs \(A100 /,
  );
});
