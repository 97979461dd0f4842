import { z } from 'zod';
import { GPU_TYPES } from '../core/accelerator.js';
import { regexSource } from './regex-source.js';
import { MACHINE_FIELD_FIXES, machineSchema } from './machine-schema.js';
import { SHELL_FIELD_FIXES, shellSchema, shellTestsSchema } from './shell-schema.js';

/**
 * The strict shape of `tsuite.config.ts`. Unknown keys are errors (a typo such as `reporter:` must
 * not be silently ignored). Checks that need outside knowledge (suite and reporter names, which
 * targets exist) live in load-config.ts.
 */

const intIn = (min: number, max: number) =>
  z
    .number({ error: `must be an integer from ${min} to ${max}` })
    .int({ error: `must be an integer from ${min} to ${max}` })
    .min(min, { error: `must be an integer from ${min} to ${max}` })
    .max(max, { error: `must be an integer from ${min} to ${max}` });

const positiveInt = z
  .number({ error: 'must be a positive integer (milliseconds)' })
  .int({ error: 'must be a positive integer (milliseconds)' })
  .positive({ error: 'must be a positive integer (milliseconds)' });

const nonEmpty = (what: string) => z.string({ error: `must be ${what}` }).min(1, { error: 'must not be empty' });

const port = intIn(1, 65_535);

/** Where a target's Docker Engine API is (see DockerTargetSettings). */
const dockerSchema = z.strictObject({
  host: z.string({ error: 'must be a string' }).regex(/^(tcp|unix):\/\//, { error: 'must start with tcp:// or unix://' }),
  port,
  certPath: nonEmpty("a folder with ca.pem, cert.pem and key.pem"),
  readyPattern: regexSource,
  readyTimeoutMs: positiveInt,
  publishPorts: z.array(port, { error: 'must be an array of guest port numbers' }),
}).partial();

const criSchema = z.strictObject({
  endpoint: z.string({ error: 'must be a string' }).regex(/^(tcp|unix):\/\/|^\//, { error: 'must be unix:///path or tcp://host:port' }),
  certPath: nonEmpty('a folder with ca.pem (and cert.pem + key.pem)'),
  port,
  streamPort: port,
  readyPattern: regexSource,
  readyTimeoutMs: positiveInt,
  hostPorts: z.array(port, { error: 'must be an array of node port numbers' }),
  nodeAddress: nonEmpty('the address at which this host reaches the node'),
  hostAddress: nonEmpty('the address at which the runtime reaches this host'),
  registryConfigDir: nonEmpty("a folder where the runtime reads hosts.toml per registry (containerd's config_path)"),
}).partial();

const gcpName = (what: string) => z.string({ error: `must be ${what}` }).regex(/^[a-z0-9][a-z0-9._:-]*$/, { error: `must be ${what} (lower-case letters, digits, '-', '.', '_')` });
const endpointUrl = z.string({ error: 'must be a URL' }).regex(/^https?:\/\/[^/]+\/?$/, { error: 'must be http(s)://host[:port]' });

/** Where a `gcp` target runs (see GcpTargetSettings); required fields are checked in load-config.ts. */
const gcpSchema = z.strictObject({
  project: gcpName('a Google Cloud project id'),
  zone: gcpName('a Compute Engine zone, e.g. us-central1-a'),
  bucket: gcpName('a Cloud Storage bucket name'),
  machineType: gcpName('a machine type, e.g. e2-small'),
  network: nonEmpty('a VPC network name'),
  subnetwork: nonEmpty('a subnetwork name'),
  computeEndpoint: endpointUrl,
  storageEndpoint: endpointUrl,
}).partial();

const awsId = (what: string, prefix: string) => z.string({ error: `must be ${what}` }).regex(new RegExp(`^${prefix}-[0-9a-f]+$`), { error: `must be ${what} (${prefix}-…)` });

/** Where an `aws` target runs (see AwsTargetSettings); required fields are checked in load-config.ts. */
const awsSchema = z.strictObject({
  region: z.string({ error: 'must be an AWS region' }).regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, { error: 'must be an AWS region, e.g. us-east-1' }),
  bucket: z.string({ error: 'must be an S3 bucket name' }).regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { error: 'must be an S3 bucket name (3-63 lower-case letters, digits, dots, hyphens)' }),
  subnetId: awsId('a subnet id', 'subnet'),
  instanceType: z.string({ error: 'must be an instance type' }).regex(/^[a-z0-9-]+\.[a-z0-9-]+$/, { error: 'must be an instance type, e.g. t3.small' }),
  securityGroupIds: z.array(awsId('a security group id', 'sg'), { error: 'must be an array of security group ids' }),
  ec2Endpoint: endpointUrl,
  s3Endpoint: endpointUrl,
}).partial();

/** Where an `azure` target runs (see AzureTargetSettings); required fields are checked in load-config.ts. */
const azureSchema = z.strictObject({
  subscriptionId: z.string({ error: 'must be a subscription id' }).regex(/^[0-9a-fA-F-]{36}$/, { error: 'must be a subscription id (a GUID)' }),
  location: z.string({ error: 'must be an Azure region' }).regex(/^[a-z0-9]+$/, { error: 'must be an Azure region name, e.g. westeurope' }),
  storageAccount: z.string({ error: 'must be a storage account name' }).regex(/^[a-z0-9]{3,24}$/, { error: 'must be a storage account name (3-24 lower-case letters and digits)' }),
  container: z.string({ error: 'must be a blob container name' }).regex(/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/, { error: 'must be a blob container name (3-63 lower-case letters, digits, hyphens)' }),
  subnetId: z.string({ error: 'must be a subnet resource id' }).regex(/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Network\/virtualNetworks\/[^/]+\/subnets\/[^/]+$/i, { error: 'must be a subnet resource id: /subscriptions/…/resourceGroups/…/providers/Microsoft.Network/virtualNetworks/…/subnets/…' }),
  vmSize: nonEmpty('a VM size, e.g. Standard_B2s'),
  armEndpoint: endpointUrl,
  blobEndpoint: z.string({ error: 'must be a URL' }).regex(/^https?:\/\/[^/]+(\/[^/]+)?\/?$/, { error: 'must be http(s)://host[:port][/account]' }),
  authorityHost: endpointUrl,
}).partial();

/** Where an `ssh` target's machine is (see SshTargetSettings); host and user are required (load-config.ts). */
const sshSchema = z.strictObject({
  host: nonEmpty('a host name or address'),
  port,
  user: nonEmpty('a user name'),
  privateKey: nonEmpty('a path to a private key file'),
  knownHosts: nonEmpty('a path to a known_hosts file'),
  hostKeyFingerprint: z.string({ error: 'must be a SHA256 fingerprint' }).regex(/^(SHA256:)?[A-Za-z0-9+/]{43}=?$/, { error: 'must be a SHA256 fingerprint as `ssh-keygen -lf` prints it, e.g. SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s' }),
  workDir: z.string({ error: 'must be an absolute path on the machine' }).regex(/^\//, { error: 'must be an absolute path on the machine' }),
}).partial();

/** The GPUs of a cloud target's instance (see AcceleratorDef); checked against the instance type in load-config.ts. */
const acceleratorSchema = z.strictObject({
  type: z.enum(GPU_TYPES, { error: `must be one of: ${GPU_TYPES.map((t) => `'${t}'`).join(', ')}` }).optional(),
  count: intIn(1, 16),
});

const cloudSchema = z.strictObject({
  sweepGraceMinutes: intIn(0, 100_000),
  consolePollMs: intIn(100, 600_000),
  operationTimeoutMs: positiveInt,
  privateNetwork: z.boolean({ error: 'must be true or false' }),
}).partial();

/** Every field optional: an entry may override a few fields of a built-in target. */
export const targetSchema = z.strictObject({
  runner: z.enum(['qemu', 'docker', 'cri', 'local', 'ssh', 'gcp', 'aws', 'azure'], { error: "must be 'qemu' (boot a machine), 'docker' (an existing Docker Engine endpoint), 'cri' (an existing CRI runtime), 'local' (this host), 'ssh' (an existing machine over SSH), or a cloud: 'gcp' (Compute Engine), 'aws' (EC2) or 'azure' (an Azure VM)" }),
  arch: nonEmpty('a string naming the QEMU arch profile'),
  kernel: nonEmpty("'reference' or a path to a kernel image"),
  initrd: nonEmpty("'tsuite' or a path to an initramfs").optional(),
  append: z.string({ error: 'must be a string' }).optional(),
  cpus: intIn(1, 64),
  memoryMb: intIn(64, 65_536),
  accel: z.enum(['auto', 'kvm', 'tcg'], { error: "must be one of 'auto', 'kvm', 'tcg'" }),
  bootTimeoutMs: positiveInt,
  landmark: regexSource.optional(),
  panicPatterns: z.array(regexSource, { error: 'must be an array of regular expression sources' }).optional(),
  powerOffCommand: z.string({ error: 'must be a string' }).optional(),
  description: z.string({ error: 'must be a string' }).optional(),
  image: nonEmpty('a path to an ISO or raw disk image'),
  firmware: z.enum(['bios', 'uefi'], { error: "must be 'bios' or 'uefi'" }),
  imageCmdline: z.string({ error: 'must be a string' }),
  kernelSrc: nonEmpty('a path to a kernel source tree'),
  build: nonEmpty('a shell command'),
  kernelArtifact: nonEmpty('a path relative to kernelSrc'),
  ktap: z.boolean({ error: 'must be true or false' }),
  exitSuccessValue: intIn(0, 255),
  expectations: nonEmpty('a path to an expectations file'),
  agent: z.boolean({ error: 'must be true or false' }),
  rootfs: nonEmpty("'node' for the container host tsuite builds, or a path to an ext4 root filesystem image"),
  docker: dockerSchema,
  cri: criSchema,
  ssh: sshSchema,
  gcp: gcpSchema,
  aws: awsSchema,
  azure: azureSchema,
  cloud: cloudSchema,
  accelerator: acceleratorSchema,
  machine: machineSchema,
  shell: shellSchema,
  shellTests: shellTestsSchema,
  containerImages: z.enum(['local', 'upstream'], { error: "must be 'local' (built here) or 'upstream' (pulled from a registry)" }),
  allowDestructive: z.boolean({ error: 'must be true or false' }),
  devicePlugin: z.strictObject({
    command: z.array(nonEmpty('a command word'), { error: "must be the plugin's command and arguments, e.g. ['./my-plugin', '--dir', '{pluginDir}']" }).min(1, { error: 'must name the plugin command' }),
    healthSignal: z.string({ error: "must be a signal name, e.g. 'SIGUSR1'" }).regex(/^SIG[A-Z0-9]+$/, { error: "must be a signal name, e.g. 'SIGUSR1'" }).optional(),
    timeoutMs: z.number({ error: 'must be a number of milliseconds' }).int({ error: 'must be a whole number of milliseconds' }).positive({ error: 'must be a positive number of milliseconds' }).optional(),
  }, { error: "must be { command: ['./my-plugin', '{pluginDir}'], healthSignal?, timeoutMs? }" }),
}).partial();

const nameList = (what: string) =>
  z.array(nonEmpty(`a ${what} name`), { error: `must be an array of ${what} names` });

const fraction = (what: string) =>
  z.number({ error: `must be ${what}, a number between 0 and 1` }).gt(0, { error: `must be ${what}, a number between 0 and 1` }).lt(1, { error: `must be ${what}, a number between 0 and 1` });

/** `tsuite bench` and `tsuite compare` settings. */
export const benchSchema = z.strictObject({
  clock: z.enum(['auto', 'instructions', 'time'], { error: "must be 'auto', 'instructions' or 'time'" }),
  boots: intIn(2, 100),
  instructionBoots: intIn(2, 100),
  maxBoots: intIn(2, 100),
  minEffect: fraction('a relative change'),
  minEffectInstructions: fraction('a relative change'),
  alpha: fraction('a significance level'),
  history: nonEmpty('a folder path'),
}).partial();

export const configSchema = z.strictObject({
  targets: z.record(z.string(), targetSchema, { error: 'must be an object mapping target names to target fields' }).optional(),
  suites: nameList('suite').optional(),
  reporters: nameList('reporter').optional(),
  suiteFiles: z.array(nonEmpty('a path or glob of suite files'), { error: 'must be an array of paths or globs of suite files' }).optional(),
  outputDir: nonEmpty('a folder path').optional(),
  defaultTarget: nonEmpty('a target name').optional(),
  testTimeoutMs: positiveInt.optional(),
  bench: benchSchema.optional(),
});

export type ConfigInput = z.output<typeof configSchema>;

export const TARGET_KEYS: readonly string[] = Object.keys(targetSchema.shape);
export const BENCH_KEYS: readonly string[] = Object.keys(benchSchema.shape);
export const CONFIG_KEYS: readonly string[] = Object.keys(configSchema.shape);

/**
 * How to fix each field, keyed by the field's name (a target field's name for target fields).
 * Fixes that need the list of valid names are built in load-config.ts.
 */
export const FIELD_FIXES: Readonly<Record<string, string>> = Object.freeze({
  ...MACHINE_FIELD_FIXES,
  ...SHELL_FIELD_FIXES,
  targets: "an object keyed by target name, e.g. targets: { 'qemu-x86': { memoryMb: 1024 } }",
  suites: "an array of suite names, e.g. suites: ['boot']",
  reporters: "an array of reporter names or reporter file paths, e.g. reporters: ['console', 'junit', './my-reporter.ts']",
  suiteFiles: "globs or paths of your suite files, relative to the config file's folder, e.g. suiteFiles: ['tsuite/**/*.suite.ts']",
  outputDir: "a folder path, e.g. outputDir: 'reports'",
  defaultTarget: "a target name, e.g. defaultTarget: 'qemu-x86'",
  testTimeoutMs: 'a whole number of milliseconds, e.g. testTimeoutMs: 60000',
  bench: 'bench: { clock: \'auto\', boots: 8, minEffect: 0.05, alpha: 0.05, history: \'bench-history\' }',
  clock: "the benchmark clock: clock: 'auto' (instructions under TCG, time under KVM), 'instructions' or 'time'",
  boots: 'the number of independent boots per measurement, a whole number from 2 to 100, e.g. boots: 8',
  instructionBoots: 'the number of boots per measurement in instruction mode, a whole number from 2 to 100, e.g. instructionBoots: 5',
  maxBoots: 'the most boots per side an A/B comparison may grow to, a whole number from 2 to 100, e.g. maxBoots: 20',
  minEffect: 'the smallest relative change reported, e.g. minEffect: 0.05 for 5%',
  minEffectInstructions: 'the smallest relative change in instruction counts reported, e.g. minEffectInstructions: 0.02 for 2%',
  alpha: 'the false discovery rate across metrics, e.g. alpha: 0.05',
  history: "the benchmark history folder, e.g. history: 'bench-history'",
  runner: "runner: 'qemu' to boot a machine, 'docker' for an existing Docker Engine endpoint, 'cri' for an existing CRI runtime, 'local' for this host, 'ssh' for an existing machine over SSH, or 'gcp', 'aws' or 'azure' for a cloud instance",
  devicePlugin: "devicePlugin: { command: ['./my-plugin', '--plugin-dir', '{pluginDir}'], healthSignal: 'SIGUSR1' } (checked by the gpu suite on the local target)",
  allowDestructive: 'allowDestructive: true lets tests change a host tsuite does not own beyond the run (bind devices to vfio-pci, load modules); default false',
  ssh: "ssh: { host: 'board.lab', user: 'root', privateKey: '~/.ssh/id_ed25519' } (port, knownHosts, hostKeyFingerprint, workDir optional); see \"SSH targets\" in the README",
  gcp: "gcp: { project: 'my-project', zone: 'us-central1-a', bucket: 'my-staging-bucket', machineType: 'e2-small' }",
  aws: "aws: { region: 'us-east-1', bucket: 'my-staging-bucket', subnetId: 'subnet-0123456789abcdef0', instanceType: 't3.small' }",
  azure: "azure: { subscriptionId: '<guid>', location: 'westeurope', storageAccount: 'mystaging', container: 'tsuite', subnetId: '/subscriptions/<guid>/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default' }",
  accelerator: "accelerator: { type: 'nvidia-l4', count: 1 } on a cloud target, matching its machine type (gcp: g2-standard-4, or n1-* with 'nvidia-t4'...; aws: g6.xlarge; azure: Standard_NC4as_T4_v3 for 'nvidia-t4'); see \"Cloud targets\" in the README",
  count: 'count: the number of whole GPUs, 1 to 16, e.g. count: 1',
  cloud: 'cloud: { sweepGraceMinutes: 120, consolePollMs: 2000, operationTimeoutMs: 900000, privateNetwork: false }',
  arch: "the guest arch, e.g. arch: 'x86_64' or arch: 'aarch64'",
  kernel: "kernel: 'reference' for the distro kernel, or a path such as kernel: './build/kernel.elf'",
  initrd: "initrd: 'tsuite' for the initramfs tsuite builds, or a path to your own",
  append: "extra kernel command line, e.g. append: 'loglevel=7'",
  cpus: 'a whole number from 1 to 64, e.g. cpus: 2',
  memoryMb: 'a whole number of MiB from 64 to 65536, e.g. memoryMb: 1024',
  accel: "accel: 'auto' (KVM when it works, else TCG), 'kvm' or 'tcg'",
  bootTimeoutMs: 'a whole number of milliseconds, e.g. bootTimeoutMs: 60000',
  landmark: "a JavaScript regex source, as a string: escape special characters (e.g. '\\\\[ready\\\\]' for [ready])",
  panicPatterns: "an array of JavaScript regex sources, e.g. panicPatterns: ['PANIC: .*']",
  powerOffCommand: "the console input that powers the guest off, e.g. powerOffCommand: 'tsuite-poweroff'",
  description: 'a short description string',
  image: "a path to a bootable ISO or raw disk, e.g. image: './out/os.iso'",
  firmware: "firmware: 'bios' (SeaBIOS) or 'uefi' (OVMF), for image boots only",
  imageCmdline: "the command line the image's bootloader passes, e.g. imageCmdline: 'console=ttyS0'",
  kernelSrc: "a kernel source tree, e.g. kernelSrc: '../linux'",
  build: "the build command run in kernelSrc, e.g. build: 'make -j8 bzImage'",
  kernelArtifact: "the built file relative to kernelSrc, e.g. kernelArtifact: 'arch/x86/boot/bzImage'",
  ktap: 'ktap: true when the kernel prints its in-kernel tests as KTAP on the console',
  exitSuccessValue: 'the isa-debug-exit value meaning success, a whole number from 0 to 255, e.g. exitSuccessValue: 0',
  expectations: "a YAML file listing known failures, e.g. expectations: './expectations/my-kernel.yaml'",
  agent: 'agent: true when the guest runs a QEMU Guest Agent on virtio-serial org.qemu.guest_agent.0',
  rootfs: "rootfs: 'node' for the container host tsuite builds, or a path such as rootfs: './out/root.ext4'",
  docker: "docker: { host: 'tcp://10.0.0.5:2376', certPath: './certs' } for an endpoint, or docker: { port: 2375 } for the guest port of a QEMU target",
  containerImages: "containerImages: 'local' (images tsuite builds) or 'upstream' (alpine, busybox, nginx from a registry)",
});
