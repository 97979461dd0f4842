/**
 * The device plugin contract's static rules, as pure functions: each returns the problems it finds
 * (empty: the rule holds), every problem worded to name the rule, so a failed check says what to fix.
 */
import { isAbsolute, normalize } from 'node:path';
import { API_VERSION, HEALTHY, UNHEALTHY, type ContainerAllocateResponse, type Device } from './api.js';

const DNS_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS_SUBDOMAIN = new RegExp(`^${DNS_LABEL}(\\.${DNS_LABEL})*$`);
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
/** The kubelet's extended-resource check puts this prefix before the name, so a name may not start with it. */
const REQUESTS_PREFIX = 'requests.';

export function versionProblems(version: string): string[] {
  return version === API_VERSION ? [] : [`version: RegisterRequest.version is ${JSON.stringify(version)}; a ${API_VERSION} kubelet accepts only ${JSON.stringify(API_VERSION)}`];
}

/**
 * An extended resource name, as the kubelet validates it: `vendor-domain/resourcetype`, the domain
 * a DNS subdomain outside kubernetes.io (that domain names the built-in resources), the type a
 * qualified-name part of at most 63 characters.
 */
export function resourceNameProblems(name: string): string[] {
  const rule = `resource name ${JSON.stringify(name)}`;
  const slash = name.indexOf('/');
  if (slash < 0) return [`${rule}: an extended resource name is vendor-domain/resourcetype (e.g. tsuite.dev/edu); a name without a domain is a built-in resource`];
  const domain = name.slice(0, slash);
  const type = name.slice(slash + 1);
  const problems: string[] = [];
  if (name.includes('kubernetes.io/')) problems.push(`${rule}: the kubernetes.io domain is reserved for Kubernetes' own resources; use your vendor's domain`);
  if (name.startsWith(REQUESTS_PREFIX)) problems.push(`${rule}: may not start with "${REQUESTS_PREFIX}" (the quota prefix)`);
  if (!DNS_SUBDOMAIN.test(domain) || domain.length + REQUESTS_PREFIX.length > 253) {
    problems.push(`${rule}: the domain ${JSON.stringify(domain)} must be a lowercase DNS subdomain (letters, digits, '-', '.'), at most ${253 - REQUESTS_PREFIX.length} characters`);
  }
  if (!QUALIFIED_NAME_PART.test(type) || type.length > 63) {
    problems.push(`${rule}: the resource type ${JSON.stringify(type)} must be 1-63 characters of letters, digits, '-', '_', '.', starting and ending with a letter or digit`);
  }
  return problems;
}

/** The endpoint is a socket file name the kubelet joins to its plugin folder: relative and staying inside it. */
export function endpointProblems(endpoint: string): string[] {
  const rule = `endpoint ${JSON.stringify(endpoint)}`;
  if (endpoint === '') return [`endpoint: RegisterRequest.endpoint is empty; it must name the plugin's socket file in the plugin folder`];
  if (isAbsolute(endpoint)) return [`${rule}: must be a file name relative to the plugin folder, not an absolute path`];
  const n = normalize(endpoint);
  if (n === '..' || n.startsWith('../') || n === '.') return [`${rule}: must name a file inside the plugin folder`];
  return [];
}

/** The first ListAndWatch answer: at least one device, each with an ID of 1-63 characters. */
export function deviceListProblems(devices: readonly Device[]): string[] {
  if (devices.length === 0) return ['devices listed: the first ListAndWatch response lists no device; it must list every device the plugin manages'];
  return devices.filter((d) => d.ID.length === 0 || d.ID.length > 63).map((d) => `devices listed: device ID ${JSON.stringify(d.ID)} must be 1-63 characters`);
}

export function duplicateIdProblems(devices: readonly Device[]): string[] {
  const seen = new Set<string>();
  const dups = new Set<string>();
  for (const d of devices) (seen.has(d.ID) ? dups : seen).add(d.ID);
  return [...dups].map((id) => `unique device IDs: ${JSON.stringify(id)} is listed more than once; device IDs must be unique`);
}

export function healthProblems(devices: readonly Device[]): string[] {
  return devices
    .filter((d) => d.health !== HEALTHY && d.health !== UNHEALTHY)
    .map((d) => `health values: device ${JSON.stringify(d.ID)} has health ${JSON.stringify(d.health)}; only "${HEALTHY}" and "${UNHEALTHY}" are defined`);
}

/** `vendor.com/class=name`, as the Container Device Interface spells a fully qualified device. */
const CDI_NAME = /^([A-Za-z](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?)\/([A-Za-z](?:[A-Za-z0-9_-]*[A-Za-z0-9])?)=([A-Za-z0-9](?:[A-Za-z0-9_.:-]*[A-Za-z0-9])?)$/;

export function cdiNameProblems(r: ContainerAllocateResponse): string[] {
  return r.cdi_devices
    .filter((d) => !CDI_NAME.test(d.name))
    .map((d) => `CDI device names: ${JSON.stringify(d.name)} is not a fully qualified CDI name vendor.com/class=name`);
}

export function envProblems(r: ContainerAllocateResponse): string[] {
  return Object.keys(r.envs)
    .filter((k) => k === '' || k.includes('=') || k.includes('\0'))
    .map((k) => `envs: environment variable name ${JSON.stringify(k)} must be non-empty, without '=' or NUL`);
}

const PERMISSIONS = /^(?!.*(.).*\1)[rwm]+$/;

/** Device specs' shape; whether their host paths exist is asked of the plugin's host separately. */
export function deviceSpecShapeProblems(r: ContainerAllocateResponse): string[] {
  const problems: string[] = [];
  for (const d of r.devices) {
    if (!isAbsolute(d.container_path)) problems.push(`device specs: container_path ${JSON.stringify(d.container_path)} must be an absolute path`);
    if (!isAbsolute(d.host_path)) problems.push(`device specs: host_path ${JSON.stringify(d.host_path)} must be an absolute path`);
    if (!PERMISSIONS.test(d.permissions)) problems.push(`device specs: permissions ${JSON.stringify(d.permissions)} of ${d.host_path} must be one or more of r, w, m`);
  }
  return problems;
}

export function mountShapeProblems(r: ContainerAllocateResponse): string[] {
  const problems: string[] = [];
  for (const m of r.mounts) {
    if (!isAbsolute(m.container_path)) problems.push(`mounts: container_path ${JSON.stringify(m.container_path)} must be an absolute path`);
    if (!isAbsolute(m.host_path)) problems.push(`mounts: host_path ${JSON.stringify(m.host_path)} must be an absolute path`);
  }
  return problems;
}

/** A preferred allocation: `size` IDs, all from the available ones, with every must-include one. */
export function preferredAllocationProblems(ids: readonly string[], available: readonly string[], mustInclude: readonly string[], size: number): string[] {
  const problems: string[] = [];
  const rule = 'preferred allocation';
  if (ids.length !== size) problems.push(`${rule}: asked for ${size} device(s), got ${ids.length} (${JSON.stringify(ids)})`);
  for (const id of ids) if (!available.includes(id)) problems.push(`${rule}: ${JSON.stringify(id)} is not among the available devices ${JSON.stringify(available)}`);
  for (const id of mustInclude) if (!ids.includes(id)) problems.push(`${rule}: the must-include device ${JSON.stringify(id)} is missing`);
  if (new Set(ids).size !== ids.length) problems.push(`${rule}: a device is named twice in ${JSON.stringify(ids)}`);
  return problems;
}
