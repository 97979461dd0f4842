/** A `*` glob over test ids as a regex matching the whole id (`*` spans `/` too). */
export function globToRegex(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}
