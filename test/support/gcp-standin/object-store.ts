import { createHash, type Hash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32cBase64, crc32cUpdate } from './crc32c.js';

/** One stored object: its bytes in a file, its resource fields beside them. */
export interface StoredObject {
  name: string;
  generation: string;
  size: number;
  contentType: string;
  md5Hash: string;
  crc32c: string;
  metadata?: Record<string, string>;
  timeCreated: string;
  file: string;
}

/** Object metadata a client may set on upload (the JSON API's writable fields that matter here). */
export interface ObjectWrite {
  contentType?: string;
  metadata?: Record<string, string>;
}

/** Running MD5 and CRC-32C over bytes arriving in order. */
export class ObjectHasher {
  private readonly md5: Hash = createHash('md5');
  private crc = 0;
  size = 0;

  update(data: Uint8Array): void {
    this.md5.update(data);
    this.crc = crc32cUpdate(this.crc, data);
    this.size += data.length;
  }

  /** The hashes as the JSON API writes them (base64), and as `X-Goog-Hash` carries them. */
  digest(): { md5Hash: string; crc32c: string } {
    return { md5Hash: this.md5.digest('base64'), crc32c: crc32cBase64(this.crc) };
  }
}

/**
 * The one bucket's objects. Bytes live in files under `dir` (image packages are tens of MiB);
 * names map to their newest generation, as a bucket without versioning keeps them.
 */
export class ObjectStore {
  private readonly objects = new Map<string, StoredObject>();
  private lastGeneration = 0;

  constructor(readonly bucket: string, private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** A fresh path inside the store for an upload to fill. */
  scratchPath(tag: string): string {
    return join(this.dir, `.partial-${tag}`);
  }

  async putBuffer(name: string, data: Buffer, write: ObjectWrite): Promise<StoredObject> {
    const hasher = new ObjectHasher();
    hasher.update(data);
    const tmp = this.scratchPath(`buf-${this.lastGeneration + 1}-${process.hrtime.bigint()}`);
    await writeFile(tmp, data);
    return this.putFile(name, tmp, hasher, write);
  }

  /** Moves a finished upload's file into place as the object's new generation. */
  async putFile(name: string, file: string, hasher: ObjectHasher, write: ObjectWrite): Promise<StoredObject> {
    // Generations are microsecond timestamps in GCS; strictly increasing here.
    const generation = Math.max(Date.now() * 1000, this.lastGeneration + 1);
    this.lastGeneration = generation;
    const path = join(this.dir, `${generation}.obj`);
    await rename(file, path);
    const old = this.objects.get(name);
    const obj: StoredObject = {
      name,
      generation: String(generation),
      size: hasher.size,
      contentType: write.contentType || 'application/octet-stream',
      ...hasher.digest(),
      ...(write.metadata && Object.keys(write.metadata).length ? { metadata: { ...write.metadata } } : {}),
      timeCreated: new Date(generation / 1000).toISOString(),
      file: path,
    };
    this.objects.set(name, obj);
    if (old) await rm(old.file, { force: true });
    return obj;
  }

  get(name: string): StoredObject | undefined {
    return this.objects.get(name);
  }

  /** Names in lexicographic order, as the JSON API lists them. */
  names(): string[] {
    return [...this.objects.keys()].sort();
  }

  async delete(name: string): Promise<boolean> {
    const obj = this.objects.get(name);
    if (!obj) return false;
    this.objects.delete(name);
    await rm(obj.file, { force: true });
    return true;
  }

  /** The object resource as the JSON API returns it. */
  resource(obj: StoredObject, origin: string): Record<string, unknown> {
    const enc = encodeURIComponent(obj.name);
    return {
      kind: 'storage#object',
      id: `${this.bucket}/${obj.name}/${obj.generation}`,
      selfLink: `${origin}/storage/v1/b/${this.bucket}/o/${enc}`,
      mediaLink: `${origin}/download/storage/v1/b/${this.bucket}/o/${enc}?generation=${obj.generation}&alt=media`,
      name: obj.name,
      bucket: this.bucket,
      generation: obj.generation,
      metageneration: '1',
      contentType: obj.contentType,
      storageClass: 'STANDARD',
      size: String(obj.size),
      md5Hash: obj.md5Hash,
      crc32c: obj.crc32c,
      etag: `C${Buffer.from(obj.generation).toString('base64').replace(/=+$/, '')}`,
      timeCreated: obj.timeCreated,
      updated: obj.timeCreated,
      timeStorageClassUpdated: obj.timeCreated,
      ...(obj.metadata ? { metadata: obj.metadata } : {}),
    };
  }
}
