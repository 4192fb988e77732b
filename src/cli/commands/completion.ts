// Shell completion. `yunjian completion bash|zsh` prints a small script that
// asks the CLI itself for candidates (`yunjian __complete CWORD WORD...`), so
// completion always matches the command tree of the installed version:
// commands and options come from commander, kinds from the kind registry
// (and `nodes` after `get`), resource names and, after --cluster, cluster
// names from the server (a short, silent request; no server means no names,
// never an error on the user's terminal).
import { Argument, type Command, type Option } from 'commander';
import { KINDS, lookupKind } from '../../model/kinds.ts';
import { connect, type Session } from '../session.ts';
import { NODE_NAMES } from '../targets.ts';

/** Commands whose first argument is a kind and second a resource name. */
const KIND_COMMANDS = new Set(['get', 'describe', 'delete']);
/** Commands that take `app NAME` (the only kind they address). */
const APP_COMMANDS = new Set(['explain', 'rebalance', 'logs']);
const NAME_LOOKUP_MS = 1500;

const BASH = `# yunjian completion for bash: source <(yunjian completion bash)
_yunjian() {
  local IFS=$'\\n'
  COMPREPLY=( $("\${COMP_WORDS[0]}" __complete "\${COMP_CWORD}" -- "\${COMP_WORDS[@]}" 2>/dev/null) )
}
complete -o default -F _yunjian yunjian
`;

const ZSH = `# yunjian completion for zsh: source <(yunjian completion zsh)
autoload -U +X bashcompinit && bashcompinit
${BASH}`;

function takesValue(o: Option): boolean {
  return o.required || o.optional;
}

function optionsOf(cmd: Command): Option[] {
  const out: Option[] = [];
  for (let c: Command | null = cmd; c !== null; c = c.parent) out.push(...c.options);
  return out;
}

function findOption(cmd: Command, word: string): Option | undefined {
  return optionsOf(cmd).find((o) => o.long === word || o.short === word);
}

function visible(cmd: Command): Command[] {
  return cmd.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden);
}

export interface CompletionContext {
  /** The command the words lead to, and the positional words given to it. */
  command: Command;
  positionals: string[];
  /** The word being completed (may be empty). */
  current: string;
  /** The option whose value is being completed, if any. */
  valueFor?: Option;
}

/** Walks the command tree the way commander will parse the words. */
export function resolveWords(program: Command, words: readonly string[]): CompletionContext {
  const current = words[words.length - 1] ?? '';
  let command = program;
  const positionals: string[] = [];
  let valueFor: Option | undefined;
  for (const w of words.slice(0, -1)) {
    if (valueFor !== undefined) {
      valueFor = undefined;
      continue;
    }
    if (w.startsWith('-')) {
      const o = w.includes('=') ? undefined : findOption(command, w);
      if (o !== undefined && takesValue(o)) valueFor = o;
      continue;
    }
    const sub =
      positionals.length === 0
        ? visible(command).find((c) => c.name() === w || c.aliases().includes(w))
        : undefined;
    if (sub !== undefined) command = sub;
    else positionals.push(w);
  }
  return { command, positionals, current, ...(valueFor !== undefined ? { valueFor } : {}) };
}

function kindWords(): string[] {
  return KINDS.flatMap((k) => [k.plural, k.singular, ...k.shortNames]);
}

/** Candidates for the context, before filtering by the current word's prefix. */
async function candidates(
  ctx: CompletionContext,
  names: (kind: string) => Promise<string[]>,
): Promise<string[]> {
  if (ctx.valueFor !== undefined)
    return ctx.valueFor.long === '--cluster' ? names('clusters') : (ctx.valueFor.argChoices ?? []);
  if (ctx.current.startsWith('-'))
    return optionsOf(ctx.command).flatMap((o) =>
      o.hidden || o.long === undefined ? [] : [o.long],
    );
  const subs = visible(ctx.command);
  if (subs.length > 0 && ctx.positionals.length === 0) return subs.map((c) => c.name());
  const name = ctx.command.name();
  const [first] = ctx.positionals;
  if (KIND_COMMANDS.has(name)) {
    if (first === undefined) return name === 'get' ? [...kindWords(), ...NODE_NAMES] : kindWords();
    return names(first);
  }
  if (APP_COMMANDS.has(name)) {
    if (first === undefined) return ['app'];
    return ctx.positionals.length === 1 ? names('applications') : [];
  }
  const arg = ctx.command.registeredArguments[ctx.positionals.length];
  return arg?.argChoices ?? [];
}

export function registerCompletion(program: Command, session: Session): void {
  const { io } = session;
  program
    .command('completion')
    .description('print a shell completion script: source <(yunjian completion bash)')
    .addArgument(new Argument('<shell>', 'shell').choices(['bash', 'zsh']))
    .action((shell: 'bash' | 'zsh') => {
      io.stdout(shell === 'bash' ? BASH : ZSH);
    });

  program
    .command('__complete', { hidden: true })
    .description('candidates for the word at CWORD (used by the completion script)')
    .argument('<cword>', 'index of the word being completed, 0 = the program')
    .argument('[words...]', 'the command line, program first')
    .allowUnknownOption()
    .helpOption(false)
    .action(async (cword: string, words: string[], _opts: unknown, cmd: Command) => {
      const upTo = words.slice(1, Number(cword) + 1);
      if (upTo.length === 0) upTo.push('');
      const ctx = resolveWords(program, upTo);
      const names = async (kindName: string): Promise<string[]> => {
        const kind = lookupKind(kindName);
        if (kind === undefined) return [];
        const namespace = namespaceIn(upTo);
        try {
          const client = await connect(session, cmd);
          const list = await Promise.race([
            client.list(kind, { ...(namespace !== undefined ? { namespace } : {}) }),
            new Promise<never>((_, reject) =>
              setTimeout(() => reject(new Error('timeout')), NAME_LOOKUP_MS).unref(),
            ),
          ]);
          return list.items.map((i) => i.metadata.name);
        } catch {
          return [];
        }
      };
      const all = await candidates(ctx, names);
      const shown = [...new Set(all)].filter((c) => c.startsWith(ctx.current)).sort();
      if (shown.length > 0) io.stdout(`${shown.join('\n')}\n`);
    });
}

function namespaceIn(words: readonly string[]): string | undefined {
  for (let i = 0; i < words.length - 1; i++)
    if (words[i] === '-n' || words[i] === '--namespace') return words[i + 1];
  return undefined;
}
