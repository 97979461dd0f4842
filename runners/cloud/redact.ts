/**
 * Strips what grants access from text on its way to a log, a report or an error message: bearer
 * and OAuth tokens, resumable-upload session ids (they authorise the upload by themselves), signed
 * URL signatures, private keys. Provider errors pass through here before anyone prints them.
 */
const SECRET_PATTERNS: readonly [RegExp, string][] = [
  [/(Bearer\s+)[^\s"',;]+/gi, '$1[redacted]'],
  [/\bya29\.[\w.-]+/g, '[redacted token]'],
  [/((?:access_token|refresh_token|id_token|subject_token|client_secret|assertion)["']?\s*[:=]\s*["']?)[^\s"'&,}]+/gi, '$1[redacted]'],
  [/((?:upload_id|X-Goog-Signature|X-Goog-Credential|X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|sig)=)[^&\s"']+/gi, '$1[redacted]'],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, '[redacted private key]'],
];

export function redact(text: string): string {
  let out = text;
  for (const [pattern, replacement] of SECRET_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}
