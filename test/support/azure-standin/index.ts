export { AzureStandin, type AzureStandinOptions, type StandinRequest } from './standin.js';
export type { AzureFaultStep, AzureFaultOptions } from './faults.js';
export { PLANTED } from './entra.js';
