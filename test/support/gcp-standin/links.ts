/**
 * Compute Engine's resource URLs. Responses carry the same absolute `selfLink`s Google writes
 * (`https://www.googleapis.com/compute/v1/projects/...`), whatever address the stand-in listens
 * on; requests may name a resource by such a URL (any host), by `projects/P/...`, or relative to
 * the project (`global/images/NAME`, `zones/Z/machineTypes/T`), as the API accepts.
 */
export class ComputeLinks {
  readonly base: string;

  constructor(readonly project: string) {
    this.base = `https://www.googleapis.com/compute/v1/projects/${project}`;
  }

  zone = (zone: string) => `${this.base}/zones/${zone}`;
  image = (name: string) => `${this.base}/global/images/${name}`;
  instance = (zone: string, name: string) => `${this.base}/zones/${zone}/instances/${name}`;
  disk = (zone: string, name: string) => `${this.base}/zones/${zone}/disks/${name}`;
  globalOperation = (name: string) => `${this.base}/global/operations/${name}`;
  zoneOperation = (zone: string, name: string) => `${this.base}/zones/${zone}/operations/${name}`;

  /** A partial or full resource URL made absolute, for fields like `machineType` and `network`. */
  absolute(ref: string): string {
    if (/^https?:\/\//.test(ref)) return ref;
    if (ref.startsWith('projects/')) return `https://www.googleapis.com/compute/v1/${ref}`;
    return `${this.base}/${ref.replace(/^\//, '')}`;
  }

  /** The project and image name a `sourceImage` names, or undefined if it names no image. */
  parseImage(ref: string): { project: string; name: string } | undefined {
    const m = /(?:^|\/)(?:projects\/([^/]+)\/)?global\/images\/([^/?#]+)$/.exec(ref.replace(/^https?:\/\/[^/]+\/compute\/v1\//, ''));
    if (!m) return undefined;
    return { project: m[1] ?? this.project, name: m[2]! };
  }
}
