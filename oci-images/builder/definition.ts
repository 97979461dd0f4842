/**
 * How a test image is declared: layers of file sources plus the runtime config. A definition is
 * data; the builder resolves each source (a Debian package, a static C program, the probes) for
 * the arch being built, so one definition serves amd64 and arm64.
 */

/** Where a layer's files come from. Paths (`to`) are absolute paths in the image. */
export type LayerSource =
  /** Debian's busybox-static at /bin/busybox, a symlink per applet, /etc/passwd and /etc/group. */
  | { kind: 'busybox' }
  /** A C source beside the image's definition, compiled static for the arch (like the probes). */
  | { kind: 'program'; image: string; source: string; to: string }
  /** Binaries from a Debian package with the loader and shared libraries they need, from Debian's packages too. */
  | { kind: 'debian'; package: string; binaries: readonly string[] }
  /** The syscall probes (fixtures/probes), one static binary per family, in folder `to`. */
  | { kind: 'probes'; to: string }
  | { kind: 'file'; to: string; content: string; mode?: number; uid?: number; gid?: number }
  | { kind: 'dir'; to: string; mode?: number; uid?: number; gid?: number };

export interface LayerDef {
  /** Shown in the image's history (`docker history`). */
  name: string;
  contents: readonly LayerSource[];
}

/** The OCI image config's `config` object: what a container runs by default. */
export interface RuntimeConfig {
  Entrypoint?: readonly string[];
  Cmd?: readonly string[];
  Env?: readonly string[];
  WorkingDir?: string;
  User?: string;
  ExposedPorts?: readonly string[];
  StopSignal?: string;
  Labels?: Readonly<Record<string, string>>;
}

export interface ImageDefinition {
  /** Image name: the ref is `tsuite/<name>:<12 hex of the image id>`. */
  name: string;
  description: string;
  /** Bottom first. Layers shared by object between images have the same digest, so engines store them once. */
  layers: readonly LayerDef[];
  config: RuntimeConfig;
}

export function defineImage(def: ImageDefinition): Readonly<ImageDefinition> {
  return Object.freeze(def);
}

/** A static C program from the image's own folder (`oci-images/<image>/<source>`). */
export const program = (image: string, source: string, to: string): LayerSource => ({ kind: 'program', image, source, to });
export const file = (to: string, content: string, mode = 0o644): LayerSource => ({ kind: 'file', to, content, mode });
export const dir = (to: string, mode = 0o755): LayerSource => ({ kind: 'dir', to, mode });
