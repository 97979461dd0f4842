export { AwsStandin, PLANTED, type AwsStandinOptions, type AwsStandinRequest, type AwsInventory } from './standin.js';
export type { AwsFaultStep, AwsFaultOptions } from './faults.js';
export { CONSOLE_LIMIT } from './console-output.js';
