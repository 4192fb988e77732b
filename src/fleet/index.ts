// Fleets: the generated demo fleet (regions, private data centres, edge sites,
// and one data centre shaped from the Alibaba 2018 trace), users' fleet files,
// and the totals printed at server start.
export { ALIBABA_FULL_MEMORY_GIB, DEFAULT_ALIBABA_MACHINE_META } from './alibaba.ts';
export {
  DEFAULT_SEED,
  generateDemoFleet,
  scaleForCores,
  type DemoFleetOptions,
  type GeneratedFleet,
} from './generate.ts';
export { loadFleetFile, parseFleet, validateFleet } from './load.ts';
export { fleetSummary, formatFleetSummary, type FleetSummary } from './summary.ts';
export type { FleetDocs } from './types.ts';
