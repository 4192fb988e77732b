// Crash safety of the SQLite store: a child process writes concurrently and
// reports each acknowledged write; we SIGKILL it mid-stream, several times on the
// same file, and check after each crash that nothing acknowledged was lost, the
// file is intact, and the revision counter is ahead of everything stored.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DatabaseSync } from 'node:sqlite';
import { openSqliteStore } from '../src/store/index.ts';

const WRITER = join(import.meta.dirname, 'fixtures', 'store-crash-writer.ts');

interface Ack {
  op: 'create' | 'update';
  name: string;
  rv: string;
}

/** Runs the writer until it has acknowledged `killAfter` writes, then SIGKILLs it. */
async function crashWriter(path: string, prefix: string, killAfter: number): Promise<Ack[]> {
  const child = spawn(process.execPath, [WRITER, path, prefix], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit');
  const acks: Ack[] = [];
  // Keep reading after the kill: lines already in the pipe were acknowledged too.
  for await (const line of createInterface({ input: child.stdout })) {
    acks.push(JSON.parse(line) as Ack);
    if (acks.length === killAfter) child.kill('SIGKILL');
  }
  const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null];
  assert.equal(
    signal,
    'SIGKILL',
    `the writer should be killed, but exited with code ${code}: ${stderr}`,
  );
  assert.ok(
    acks.length >= killAfter,
    `only ${acks.length} writes acknowledged before the writer died: ${stderr}`,
  );
  return acks;
}

function checkFile(path: string): void {
  const db = new DatabaseSync(path);
  try {
    assert.equal(db.prepare('PRAGMA integrity_check').get()?.integrity_check, 'ok');
    const counter = Number(
      db.prepare("SELECT value FROM meta WHERE key = 'revision'").get()?.value,
    );
    const maxObject = Number(
      db.prepare('SELECT coalesce(max(revision), 0) AS m FROM objects').get()?.m,
    );
    const maxEvent = Number(
      db.prepare('SELECT coalesce(max(revision), 0) AS m FROM events').get()?.m,
    );
    assert.ok(
      counter >= maxObject,
      `revision counter ${counter} >= newest object revision ${maxObject}`,
    );
    assert.equal(maxEvent, counter, 'the newest event is the last revision handed out');
  } finally {
    db.close();
  }
}

void describe('SqliteStore crash safety', () => {
  void it(
    'keeps every acknowledged write across repeated SIGKILLs',
    { timeout: 120_000 },
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'yunjian-crash-'));
      const path = join(dir, 'store.db');
      try {
        const all: Ack[] = [];
        let lastRevision = 0n;
        for (const [round, killAfter] of [150, 400, 60].entries()) {
          const acks = await crashWriter(path, `r${round}`, killAfter);
          all.push(...acks);
          checkFile(path);

          const store = openSqliteStore({ path });
          try {
            const revision = BigInt(await store.revision());
            assert.ok(
              revision > lastRevision,
              `round ${round}: the revision moved forward (${lastRevision} -> ${revision})`,
            );
            lastRevision = revision;
            const stored = new Map<string, bigint>();
            for (const obj of (await store.list('Application')).items) {
              const rv = BigInt(obj.metadata.resourceVersion!);
              assert.ok(
                rv <= revision,
                `${obj.metadata.name}: resourceVersion ${rv} <= store revision ${revision}`,
              );
              stored.set(obj.metadata.name, rv);
            }
            for (const a of all) {
              const rv = stored.get(a.name);
              assert.ok(
                rv !== undefined,
                `acknowledged ${a.op} of ${a.name} (rv ${a.rv}) was lost`,
              );
              assert.ok(
                rv >= BigInt(a.rv),
                `${a.name}: stored rv ${rv} is older than acknowledged ${a.op} at ${a.rv}`,
              );
            }
          } finally {
            await store.close();
          }
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});
