export { GcpStandin, type GcpStandinOptions, type StandinRequest } from './standin.js';
export type { GcpFaultStep, GcpFaultOptions } from './faults.js';
export { PLANTED } from './sts.js';
