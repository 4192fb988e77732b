// `yunjian secrets rotate-key [--prune]`: the server puts a fresh key first in
// its encryption key file and re-encrypts every Secret with it.
import type { Command } from 'commander';
import { ROTATE_KEY_PATH } from '../../api/secrets.ts';
import type { RotationResult } from '../../store/encrypted.ts';
import { connect, type Session } from '../session.ts';

export function registerSecrets(program: Command, session: Session): void {
  const { io } = session;
  const secrets = program.command('secrets').description('Secrets encrypted at rest');
  secrets
    .command('rotate-key')
    .description(
      'encrypt every Secret with a fresh key (the older keys stay in the key file, able to decrypt, unless --prune)',
    )
    .option('--prune', 'afterwards remove every older key from the key file')
    .action(async (opts: { prune?: boolean }, cmd: Command) => {
      const client = await connect(session, cmd);
      const result = await client.call<RotationResult>('POST', ROTATE_KEY_PATH, {
        prune: opts.prune === true,
      });
      const n = result.reencrypted;
      io.stdout(
        `key ${result.key} now encrypts new writes; ${n} secret${n === 1 ? '' : 's'} re-encrypted\n`,
      );
      if (result.pruned.length > 0) io.stdout(`removed keys: ${result.pruned.join(', ')}\n`);
      else if (result.keys.length > 1)
        io.stdout(
          `older keys still decrypt: ${result.keys.slice(1).join(', ')} (remove them with --prune)\n`,
        );
    });
}
