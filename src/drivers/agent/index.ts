// The agent driver: clusters whose members are `yunjian agent` processes.
export { AgentHub, AgentDriver, workloadName } from './hub.ts';
export { createJoinToken, listJoinTokens, revokeJoinToken } from './tokens.ts';
