// Where the etcd store keeps things, under one key prefix (default `/yunjian/`):
//
//   <prefix>meta/revision              the store revision: a decimal counter, the sequencer
//   <prefix>meta/compacted             change log entries up to this revision are gone
//   <prefix>log/<revision, 16 digits>  one change: {"type","txn","doc"}, the object as written
//   <prefix>objects/<kind>/<namespace>\0<name>   the current object (JSON); namespace '' when
//                                      cluster-scoped, so `objects/Cloud/\0aws`
//
// Why a counter and a log rather than etcd's own mod revision and key events:
// the Store contract gives every write of a batch its own consecutive revision
// and every watcher every intermediate state, while one etcd transaction has a
// single revision and may not put a key twice. Every write transaction compares
// `meta/revision`'s mod revision with the one its reads saw, so a transaction
// commits only if nothing was written since those reads, across every control
// plane sharing the prefix. The log's keys sort by revision, so a watcher
// catches up with one range read and then follows the log prefix with an etcd
// watch. NUL sorts before every other byte, so objects list in (namespace,
// name) order, as on SQLite.
import { BadRequestError } from '../../model/errors.ts';
import type { NormalKey } from '../objects.ts';

/** Digits of a log key's revision: sorts numerically up to 10^16 - 1. */
const LOG_DIGITS = 16;

export class Layout {
  readonly prefix: string;
  readonly revision: Buffer;
  readonly compacted: Buffer;
  readonly logPrefix: string;

  constructor(prefix: string) {
    if (prefix === '' || prefix.includes('\0'))
      throw new BadRequestError(
        `etcd key prefix must be non-empty and without NUL, got ${JSON.stringify(prefix)}`,
      );
    this.prefix = prefix;
    this.revision = Buffer.from(`${prefix}meta/revision`);
    this.compacted = Buffer.from(`${prefix}meta/compacted`);
    this.logPrefix = `${prefix}log/`;
  }

  log(revision: number): Buffer {
    return Buffer.from(this.logPrefix + String(revision).padStart(LOG_DIGITS, '0'));
  }

  /** The revision of a log key. */
  logRevision(key: Buffer): number {
    return Number(key.subarray(Buffer.byteLength(this.logPrefix)).toString());
  }

  object(k: NormalKey): Buffer {
    const fields: [string, string][] = [
      ['kind', k.kind],
      ['namespace', k.namespace],
      ['name', k.name],
    ];
    for (const [field, value] of fields) {
      if (value.includes('\0') || (field === 'kind' && value.includes('/')))
        throw new BadRequestError(
          `object ${field} ${JSON.stringify(value)} holds a character the etcd store cannot key`,
        );
    }
    return Buffer.from(`${this.prefix}objects/${k.kind}/${k.namespace}\0${k.name}`);
  }

  /** Every object of `kind`, or of `kind` in `namespace`. */
  objects(kind: string, namespace?: string): Buffer {
    return Buffer.from(
      `${this.prefix}objects/${kind}/${namespace === undefined ? '' : `${namespace}\0`}`,
    );
  }
}

/** The first key after every key that starts with `prefix` (etcd's range_end for a prefix). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/** A key just after `key`: the start of a range that excludes it. */
export function after(key: Buffer): Buffer {
  return Buffer.concat([key, Buffer.from([0])]);
}

/** One change log entry as stored. */
export interface LogEntry {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  /** The transaction that wrote it: how a writer recognises its own commit after a retry. */
  txn: string;
  doc: unknown;
}
