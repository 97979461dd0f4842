/**
 * Benjamini–Hochberg false-discovery-rate correction: a bench run compares dozens of metrics at
 * once, so an uncorrected p < 0.05 would flag about one in twenty unchanged metrics by chance.
 */

import padjust from '@stdlib/stats-padjust';

/** BH q-values, in the order of `pValues`. Each p must be a probability (0..1). */
export function benjaminiHochberg(pValues: readonly number[]): number[] {
  if (pValues.length === 0) return [];
  for (const p of pValues) {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`benjaminiHochberg: ${p} is not a p-value in [0, 1]`);
  }
  return padjust([...pValues], 'bh');
}
