/**
 * Escaping for the HTML report. Test names, error messages and console excerpts come from the
 * kernel under test: any of them may hold markup, and none may break the page.
 */

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text for an element's content or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/**
 * JSON to embed in `<script type="application/json">`. Escaping every `<`, `>` and `&` as a JSON
 * `\u` escape means no `</script>` or `<!--` can appear, and JSON.parse gives back the same value.
 * U+2028/U+2029 are escaped too, so the text stays valid even if pasted into a JS string.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}
