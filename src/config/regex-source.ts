import { z } from 'zod';

/** A regex source, compiled once at load so a typo fails at load time, not mid-boot. */
export const regexSource = z
  .string({ error: 'must be a string holding a regular expression source' })
  .min(1, { error: 'must not be empty' })
  .superRefine((source, ctx) => {
    try {
      new RegExp(source);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `not a valid regular expression: ${err instanceof Error ? err.message : String(err)}` });
    }
  });
