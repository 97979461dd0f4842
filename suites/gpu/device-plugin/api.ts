/**
 * The device plugin API v1beta1 as tsuite uses it: the loaded gRPC services, the decoded message
 * shapes (proto3 field names as published, `ID`, `devices_ids`, `available_deviceIDs`), and the
 * contract's constants.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { assetPath } from '../../../src/index.js';

/** The only version a v1beta1 kubelet accepts in RegisterRequest. */
export const API_VERSION = 'v1beta1';
/** The kubelet's registration socket, in the device plugin folder. */
export const KUBELET_SOCKET = 'kubelet.sock';
/** Where a real kubelet keeps the folder. */
export const KUBELET_PLUGIN_DIR = '/var/lib/kubelet/device-plugins';
export const HEALTHY = 'Healthy';
export const UNHEALTHY = 'Unhealthy';

export interface DevicePluginOptions {
  pre_start_required: boolean;
  get_preferred_allocation_available: boolean;
}

export interface RegisterRequest {
  version: string;
  endpoint: string;
  resource_name: string;
  /** Absent when the plugin sent none (proto3 leaves an unset message out). */
  options: DevicePluginOptions | null;
}

export interface Device {
  ID: string;
  health: string;
  topology: { nodes: { ID: number }[] } | null;
}

export interface ListAndWatchResponse {
  devices: Device[];
}

export interface ContainerPreferredAllocationRequest {
  available_deviceIDs: string[];
  must_include_deviceIDs: string[];
  allocation_size: number;
}

export interface PreferredAllocationResponse {
  container_responses: { deviceIDs: string[] }[];
}

export interface Mount {
  container_path: string;
  host_path: string;
  read_only: boolean;
}

export interface DeviceSpec {
  container_path: string;
  host_path: string;
  permissions: string;
}

export interface ContainerAllocateResponse {
  envs: Record<string, string>;
  mounts: Mount[];
  devices: DeviceSpec[];
  annotations: Record<string, string>;
  cdi_devices: { name: string }[];
}

export interface AllocateResponse {
  container_responses: ContainerAllocateResponse[];
}

export interface DevicePluginApi {
  Registration: grpc.ServiceClientConstructor;
  DevicePlugin: grpc.ServiceClientConstructor;
}

const PROTO_FILE = assetPath('suites', 'gpu', 'device-plugin', 'deviceplugin-v1beta1.proto');
let loaded: Promise<DevicePluginApi> | undefined;

/** The two services, loaded once; messages decode with defaults so absent fields read as empty. */
export function devicePluginApi(): Promise<DevicePluginApi> {
  loaded ??= protoLoader.load(PROTO_FILE, { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true }).then((def) => {
    const pkg = grpc.loadPackageDefinition(def) as unknown as { v1beta1: Record<string, grpc.ServiceClientConstructor> };
    return { Registration: pkg.v1beta1.Registration!, DevicePlugin: pkg.v1beta1.DevicePlugin! };
  });
  return loaded;
}

/** The gRPC target of a socket file. */
export const unixTarget = (socketPath: string): string => `unix://${socketPath}`;
