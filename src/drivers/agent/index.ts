// The agent driver: clusters whose members are `yunjian agent` processes.
export { AgentHub, AgentDriver, workloadName } from './hub.ts';
export { agentApiPlugin } from './plugin.ts';
