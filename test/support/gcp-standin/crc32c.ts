/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum Cloud Storage keeps for every
 * object. Node 20 has no built-in one, and the stand-in must not borrow the client library's: the
 * client checks our value against its own, which is the point.
 */
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** Continues a CRC-32C over `data` (start with 0). */
export function crc32cUpdate(crc: number, data: Uint8Array): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** As the JSON API writes it: base64 of the 4 bytes, big-endian. */
export function crc32cBase64(crc: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(crc >>> 0);
  return b.toString('base64');
}
