// `yunjian backup create FILE` / `yunjian backup restore FILE`: a consistent
// snapshot of the store (every object at one revision, which the file
// records) and its restore into an empty store. They open the store
// themselves (--store, as `yunjian server` takes it), below the encryption of
// Secrets: the file holds their ciphertext, and the restored store needs the
// same encryption key file. Restore into a SQLite data directory refuses while
// a server runs there.
import type { Command } from 'commander';
import { describeLocation } from '../../store/location.ts';
import { readBackup, restoreInto, writeBackup } from '../../store/transfer.ts';
import { defaultDataDir } from '../config.ts';
import type { Session } from '../session.ts';
import {
  addEtcdOptions,
  etcdAccess,
  openExisting,
  openForWriting,
  storeLocation,
  type EtcdFlags,
} from './store.ts';

interface BackupFlags extends EtcdFlags {
  store: string;
  data: string;
  force?: boolean;
}

export function registerBackup(program: Command, session: Session): void {
  const { io } = session;
  const backup = program
    .command('backup')
    .description('back up the store to a file and restore it (Secrets stay encrypted)');
  const storeOptions = (cmd: Command) =>
    addEtcdOptions(
      cmd
        .option(
          '--store <url>',
          'sqlite (the data directory), sqlite:DIR or etcd://host:port,...',
          'sqlite',
        )
        .option(
          '--data <dir>',
          'data directory of --store sqlite',
          defaultDataDir(io.env, io.home),
        ),
    );

  storeOptions(
    backup
      .command('create')
      .argument('<file>', 'backup file to write (mode 0600)')
      .description('write every object of the store, as of one revision, to FILE'),
  ).action(async (file: string, opts: BackupFlags) => {
    const location = storeLocation('--store', opts.store, opts.data);
    const store = await openExisting('--store', location, etcdAccess(opts, io.env, [location]));
    try {
      const header = await writeBackup(store, file, describeLocation(location));
      io.stdout(`backed up ${header.objects} objects at revision ${header.revision} to ${file}\n`);
    } finally {
      await store.close();
    }
  });

  storeOptions(
    backup
      .command('restore')
      .argument('<file>', 'a file written by backup create')
      .description('write every object of FILE into an empty store, as it was')
      .option('--force', 'replace whatever the store holds'),
  ).action(async (file: string, opts: BackupFlags) => {
    const location = storeLocation('--store', opts.store, opts.data);
    const access = etcdAccess(opts, io.env, [location]);
    const { header, objects } = await readBackup(file);
    const store = await openForWriting('--store', location, access);
    try {
      await restoreInto(store, objects, { force: opts.force === true });
      io.stdout(
        `restored ${objects.length} objects (backed up at revision ${header.revision} from ${header.source}) into ${describeLocation(location)}\n`,
      );
    } finally {
      await store.close();
    }
  });
}
