/**
 * The rules the test device plugin can be told to break (TSUITE_BROKEN_RULE), each with the one
 * harness check that must fail because of it. Unset: the plugin conforms.
 */
export const BROKEN_RULES = {
  'no-register': 'registration',
  version: 'version',
  'resource-name': 'resource-name',
  'endpoint-missing': 'endpoint',
  'options-mismatch': 'options',
  'no-devices': 'list-and-watch/devices',
  'duplicate-ids': 'list-and-watch/unique-ids',
  'bad-health': 'list-and-watch/health-values',
  'bad-preferred-allocation': 'get-preferred-allocation',
  'allocate-refuses': 'allocate/answers',
  'missing-host-path': 'allocate/device-specs',
  'missing-mount-path': 'allocate/mounts',
  'bad-env-name': 'allocate/envs',
  'bad-cdi-name': 'allocate/cdi-devices',
  'accepts-unknown-device': 'allocate/unknown-device',
  'pre-start-fails': 'pre-start-container',
  'no-health-update': 'health-change',
  'no-reregister': 're-registration',
} as const;

export type BrokenRule = keyof typeof BROKEN_RULES;

export function brokenRule(value: string | undefined): BrokenRule | undefined {
  if (!value) return undefined;
  if (value in BROKEN_RULES) return value as BrokenRule;
  throw new Error(`TSUITE_BROKEN_RULE=${value} is not a rule the test plugin knows: ${Object.keys(BROKEN_RULES).join(', ')}`);
}
