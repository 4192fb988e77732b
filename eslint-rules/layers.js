// Import direction between the folders of src/. Each folder may import only
// the folders listed for it, so dependencies point one way: the bottom (lib,
// model) imports nothing of ours, the CLI sits on top. A new folder must be
// added here before anything in it lints, so the table is the whole picture
// (docs/architecture.md prints it). Type-only imports count too: a type that
// crosses a boundary the wrong way means the type lives in the wrong folder.
import { dirname, relative, resolve, sep } from 'node:path';

/** folder -> folders it may import (its own is always allowed). */
export const LAYERS = {
  lib: [],
  model: ['lib'],
  store: ['lib', 'model'],
  admission: ['lib', 'model', 'store'],
  events: ['lib', 'model', 'store'],
  scheduler: ['lib', 'model'],
  fleet: ['lib', 'model'],
  agent: ['lib', 'model'],
  drivers: ['lib', 'model', 'store', 'admission', 'events', 'scheduler', 'agent'],
  controllers: ['lib', 'model', 'store', 'admission', 'events', 'scheduler', 'drivers'],
  traffic: ['lib', 'model', 'store', 'events'],
  // Delivery metrics and cost: read the store and events, decide nothing for the controllers.
  insights: ['lib', 'model', 'store', 'events'],
  api: [
    'lib',
    'model',
    'store',
    'admission',
    'events',
    'scheduler',
    'agent',
    'drivers',
    'controllers',
    'traffic',
    'insights',
  ],
  bench: [
    'lib',
    'model',
    'store',
    'admission',
    'events',
    'scheduler',
    'fleet',
    'drivers',
    'controllers',
    'traffic',
    'insights',
    'api',
  ],
  cmd: [
    'lib',
    'model',
    'store',
    'admission',
    'events',
    'scheduler',
    'fleet',
    'agent',
    'drivers',
    'controllers',
    'traffic',
    'insights',
    'api',
  ],
  cli: [
    'lib',
    'model',
    'store',
    'admission',
    'events',
    'scheduler',
    'fleet',
    'agent',
    'drivers',
    'controllers',
    'traffic',
    'insights',
    'api',
    'cmd',
    'bench',
  ],
  // The browser console runs in another process and reaches the server over HTTP only.
  console: ['lib', 'model'],
};

const SRC = resolve(import.meta.dirname, '..', 'src');

function folderOf(file) {
  const rel = relative(SRC, file);
  if (rel.startsWith('..') || rel === '') return undefined;
  const [first, second] = rel.split(sep);
  return second === undefined ? undefined : first;
}

export const layersPlugin = {
  rules: {
    'import-direction': {
      meta: {
        type: 'problem',
        docs: {
          description: 'src/ folders import only the folders below them (eslint-rules/layers.js)',
        },
        schema: [],
        messages: {
          unknown: 'src/{{from}} is not in the layer table (eslint-rules/layers.js): add it there',
          upward:
            'src/{{from}} may not import src/{{to}} (allowed: {{allowed}}); see eslint-rules/layers.js',
        },
      },
      create(context) {
        const file = context.filename;
        const from = folderOf(file);
        if (from === undefined) return {};
        const allowed = LAYERS[from];
        function check(node, source) {
          if (typeof source !== 'string' || !source.startsWith('.')) return;
          const to = folderOf(resolve(dirname(file), source));
          if (to === undefined || to === from) return;
          if (allowed === undefined) {
            context.report({ node, messageId: 'unknown', data: { from } });
            return;
          }
          if (!allowed.includes(to))
            context.report({
              node,
              messageId: 'upward',
              data: { from, to, allowed: allowed.join(', ') || 'nothing of ours' },
            });
        }
        return {
          ImportDeclaration: (node) => check(node, node.source.value),
          ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
          ExportAllDeclaration: (node) => check(node, node.source.value),
          ImportExpression: (node) =>
            node.source.type === 'Literal' && check(node, node.source.value),
        };
      },
    },
  },
};
