// What a command's KIND and NAME arguments address: the kind (by any of its
// names), the object's name and the namespace it is looked up in.
import { DEFAULT_NAMESPACE, lookupKind, type KindInfo } from '../model/kinds.ts';
import { UsageError, unknownKindError } from './errors.ts';

export function resolveKind(name: string): KindInfo {
  const kind = lookupKind(name);
  if (kind === undefined) throw unknownKindError(name);
  return kind;
}

/** `KIND NAME` or kubectl's `KIND/NAME`. */
export function target(
  kindArg: string,
  nameArg: string | undefined,
): { kind: KindInfo; name: string | undefined } {
  const slash = kindArg.indexOf('/');
  if (slash < 0) return { kind: resolveKind(kindArg), name: nameArg };
  if (nameArg !== undefined)
    throw new UsageError(
      `give either KIND/NAME or KIND NAME, not both ("${kindArg}" and "${nameArg}")`,
    );
  return { kind: resolveKind(kindArg.slice(0, slash)), name: kindArg.slice(slash + 1) };
}

/** The namespace a namespaced kind is addressed in; undefined for cluster-scoped kinds and for -A. */
export function namespaceFor(
  kind: KindInfo,
  namespace: string | undefined,
  all = false,
): string | undefined {
  if (!kind.namespaced || all) return undefined;
  return namespace ?? DEFAULT_NAMESPACE;
}

/** The application a verb that works only on applications (explain, rebalance) names. */
export function appTarget(
  verb: string,
  kindArg: string,
  nameArg: string | undefined,
  namespace: string | undefined,
): { name: string; namespace: string } {
  const { kind, name } = target(kindArg, nameArg);
  if (kind.kind !== 'Application')
    throw new UsageError(`${verb} works on applications, not ${kind.plural}`);
  if (name === undefined) throw new UsageError(`${verb} needs a name: yunjian ${verb} app NAME`);
  return { name, namespace: namespaceFor(kind, namespace) ?? DEFAULT_NAMESPACE };
}

/**
 * Names of a cluster's nodes, which `get` lists from the cluster's driver:
 * nodes are no stored kind, so these are recognised before kind lookup.
 */
export const NODE_NAMES: readonly string[] = ['nodes', 'node', 'no'];

/** Whether a `KIND` or `KIND/NAME` argument names nodes. */
export function namesNodes(kindArg: string): boolean {
  const slash = kindArg.indexOf('/');
  return NODE_NAMES.includes((slash < 0 ? kindArg : kindArg.slice(0, slash)).toLowerCase());
}
