// The agent driver: clusters whose members are `yunjian agent` processes.
export { AgentHub } from './hub.ts';
export { AgentDriver, workloadName } from './driver.ts';
export { createJoinToken, listJoinTokens, revokeJoinToken } from './tokens.ts';
