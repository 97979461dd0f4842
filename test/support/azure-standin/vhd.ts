/**
 * The check Azure makes of an uploaded VHD before a managed image or disk is made from it: the last
 * 512 bytes are a VHD footer (Microsoft's "Virtual Hard Disk Image Format Specification") with the
 * cookie `conectix`, file format version 1.0, disk type 2 (fixed), a current size equal to the blob
 * size less the footer, that size a whole number of MiB (Azure's rule), and a checksum that is the
 * ones' complement of the byte sum of the footer without its checksum field.
 * Returns the problem in Azure's words, or undefined when the footer is good.
 */
export function vhdProblem(blobUri: string, blobSize: number, footer: Buffer): string | undefined {
  if (blobSize < 512 || blobSize % 512 !== 0) return `The VHD ${blobUri} has an unsupported size of ${blobSize} bytes: a page blob holding a fixed VHD is a whole number of 512-byte pages.`;
  if (footer.length !== 512) return `Could not read the VHD footer of ${blobUri}.`;
  if (footer.toString('latin1', 0, 8) !== 'conectix') return `The specified cookie value in VHD footer indicates that disk with blob ${blobUri} is not a supported VHD. Disk is expected to have cookie value 'conectix'.`;
  if (footer.readUInt32BE(12) !== 0x00010000) return `The VHD ${blobUri} has an unsupported file format version 0x${footer.readUInt32BE(12).toString(16)}; expected 0x10000.`;
  const diskType = footer.readUInt32BE(60);
  if (diskType !== 2) return `The VHD ${blobUri} is of disk type ${diskType}; only fixed VHDs (type 2) are supported. Dynamic and differencing VHDs must be converted to fixed.`;
  let sum = 0;
  for (let i = 0; i < 512; i++) if (i < 64 || i >= 68) sum += footer[i]!;
  const checksum = ~sum >>> 0;
  if (footer.readUInt32BE(64) !== checksum) return `The VHD footer of ${blobUri} has checksum 0x${footer.readUInt32BE(64).toString(16)}; the footer's bytes give 0x${checksum.toString(16)}.`;
  const current = Number(footer.readBigUInt64BE(48));
  if (current !== blobSize - 512) return `The VHD ${blobUri} declares a virtual size of ${current} bytes but holds ${blobSize - 512} bytes of data before its footer.`;
  if (current % (1024 * 1024) !== 0) return `The VHD ${blobUri} has an unsupported virtual size of ${current} bytes.  The size must be a whole number (in MBs).`;
  return undefined;
}
