// Reads a user's fleet file: multi-document YAML (or JSON, a subset) of Cloud,
// Site and Cluster resources. Each document is validated on its own, then the
// fleet as a whole (names unique per kind, references resolve); every problem
// is reported at once, with the document it is in.
import { readFileSync } from 'node:fs';
import { LineCounter, parseAllDocuments } from 'yaml';
import { findDuplicateKey } from '../lib/yamlkeys.ts';
import {
  BadRequestError,
  NotFoundError,
  ValidationError,
  type FieldCause,
} from '../model/errors.ts';
import { validateResource } from '../model/validate.ts';
import type { FleetDocs } from './types.ts';

export function loadFleetFile(path: string): FleetDocs {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new NotFoundError(`fleet file ${path} does not exist`);
    throw err;
  }
  return parseFleet(text, path);
}

/** `source` names the input in messages (a path, "request body"). */
export function parseFleet(text: string, source: string): FleetDocs {
  const docs: FleetDocs = { clouds: [], sites: [], clusters: [] };
  const lines = new LineCounter();
  // The yaml package's duplicate-key check is quadratic in a map's keys; ours is one pass.
  const parsed = parseAllDocuments(text, { uniqueKeys: false, lineCounter: lines });
  parsed.forEach((doc, i) => {
    const subject = `${source} document ${i + 1}`;
    const error = doc.errors[0];
    if (error !== undefined) throw new BadRequestError(`${subject}: ${error.message}`);
    const duplicate = findDuplicateKey(doc.contents);
    if (duplicate !== undefined) {
      const { line, col } = lines.linePos(duplicate.offset);
      throw new BadRequestError(
        `${subject} (line ${line}, column ${col}): duplicate key ${duplicate.path}: a key may appear once in a map`,
        {
          causes: [
            { field: duplicate.path, message: 'expected a key that appears once in its map' },
          ],
        },
      );
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return; // an empty document, e.g. after a trailing ---
    const resource = validateResource(value, subject);
    switch (resource.kind) {
      case 'Cloud':
        docs.clouds.push(resource);
        break;
      case 'Site':
        docs.sites.push(resource);
        break;
      case 'Cluster':
        docs.clusters.push(resource);
        break;
      default:
        throw new ValidationError(subject, [
          {
            field: 'kind',
            message: `expected Cloud, Site or Cluster in a fleet file, got ${resource.kind}`,
          },
        ]);
    }
  });
  validateFleet(docs, source);
  return docs;
}

/** Checks the fleet as a whole; throws a ValidationError listing every problem. */
export function validateFleet(docs: FleetDocs, source = 'fleet'): void {
  const causes: FieldCause[] = [];
  const index = <T extends { kind: string; metadata: { name: string } }>(items: T[]) => {
    const byName = new Map<string, T>();
    for (const item of items) {
      const name = item.metadata.name;
      if (byName.has(name))
        causes.push({
          field: `${item.kind} ${name}: metadata.name`,
          message: `duplicate ${item.kind} name "${name}"`,
        });
      byName.set(name, item);
    }
    return byName;
  };
  const clouds = index(docs.clouds);
  const sites = index(docs.sites);
  index(docs.clusters);
  for (const site of docs.sites) {
    if (!clouds.has(site.spec.cloud)) {
      causes.push({
        field: `Site ${site.metadata.name}: spec.cloud`,
        message: `expected the name of a Cloud in the fleet, got "${site.spec.cloud}"`,
      });
    }
  }
  for (const cluster of docs.clusters) {
    const at = (field: string) => `Cluster ${cluster.metadata.name}: ${field}`;
    const { cloud, site: siteName, zone } = cluster.spec;
    if (!clouds.has(cloud))
      causes.push({
        field: at('spec.cloud'),
        message: `expected the name of a Cloud in the fleet, got "${cloud}"`,
      });
    const site = sites.get(siteName);
    if (site === undefined) {
      causes.push({
        field: at('spec.site'),
        message: `expected the name of a Site in the fleet, got "${siteName}"`,
      });
      continue;
    }
    if (site.spec.cloud !== cloud) {
      causes.push({
        field: at('spec.cloud'),
        message: `expected "${site.spec.cloud}", the cloud of site "${siteName}", got "${cloud}"`,
      });
    }
    const zones = site.spec.zones;
    if (zone !== undefined && zones !== undefined && !zones.includes(zone)) {
      causes.push({
        field: at('spec.zone'),
        message: `expected one of the zones of site "${siteName}" (${zones.join(', ')}), got "${zone}"`,
      });
    }
  }
  if (causes.length > 0) throw new ValidationError(source, causes);
}
