// Types of layers.js for the test that checks the rule.
import type { ESLint } from 'eslint';

export declare const LAYERS: Readonly<Record<string, readonly string[]>>;
export declare const layersPlugin: ESLint.Plugin;
