/** tsuite's OCI test images: built here from the definitions in this folder, loaded into an engine through its API. */
export { buildTestImages, buildImage, type BuiltImage, type BuiltImages, type BuildOptions } from './builder/build-images.js';
export { ensureTestImages, ensureTestImage, loadImage, pullImage, UPSTREAM_IMAGES, type ImageEngine, type TestImages } from './builder/ensure-images.js';
export { IMAGE_DEFINITIONS, IMAGE_NAMES, CUSTOM_IMAGES, type ImageName } from './images.js';
export { defineImage, type ImageDefinition, type LayerDef, type LayerSource, type RuntimeConfig } from './builder/definition.js';
export { NGINX_MARKER } from './nginx/image.js';
export { PROBES_IN_IMAGE } from './probes/image.js';
export * from './registry/index.js';
/** The pod sandbox image (containerd's `sandbox_image`), built with buildImage(); not in IMAGE_DEFINITIONS. */
export { default as PAUSE_IMAGE } from './pause/image.js';
