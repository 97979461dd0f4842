/** Local OCI registries (CNCF distribution 2.8) started by tsuite, and pushing its built test images to them. */
export {
  startLocalRegistries, localRegistryUnavailable, REGISTRY_KINDS,
  type LocalRegistries, type LocalRegistriesOptions, type LocalRegistry, type RegistryKind,
} from './local-registry.js';
export { pushImage, type PushImageRequest, type PushedManifest, type KnownBlobs } from './push-image.js';
export { fillRegistry, fillRegistries, imageRefs, splitRef, type PushedImage } from './fill-registry.js';
export { RegistryClient, RegistryError, type RegistryAccess, type RegistryResponse } from './registry-client.js';
export { registryCredentials, randomCredentials, type RegistryCredentials } from './htpasswd.js';
export { sweepStaleRegistries } from './registry-state.js';
