import { z } from 'zod';
import { regexSource } from './regex-source.js';
import type { ShellStep } from '../core/shell-test-def.js';

/**
 * The `shell` channel settings and the declarative `shellTests` of a target (see ShellSettings in
 * src/channels/shell.ts and ShellTestDef in src/core/shell-test-def.ts), strict like the rest.
 */

const ms = (what: string) =>
  z
    .number({ error: `must be ${what}, a positive whole number of milliseconds` })
    .int({ error: `must be ${what}, a positive whole number of milliseconds` })
    .positive({ error: `must be ${what}, a positive whole number of milliseconds` });

export const shellSchema = z.strictObject({
  prompt: regexSource,
  lineEnding: z.enum(['\n', '\r', '\r\n'], { error: "must be '\\n', '\\r' or '\\r\\n'" }).optional(),
  charDelayMs: z.number({ error: 'must be a number of milliseconds from 0 to 1000' }).min(0, { error: 'must be a number of milliseconds from 0 to 1000' })
    .max(1000, { error: 'must be a number of milliseconds from 0 to 1000' }).optional(),
  echo: z.boolean({ error: 'must be true or false' }).optional(),
  timeoutMs: ms('the time limit of one command').optional(),
}, { error: "must be an object, e.g. shell: { prompt: '^fixture> $' }" });

const STEP_KINDS = ['send', 'expect', 'notExpect', 'timeout'] as const;

const stepSchema = z
  .strictObject({
    send: z.string({ error: 'must be the command line to type' }).regex(/^[^\r\n]*$/, { error: 'must be one line (the shell channel adds the line ending)' }),
    expect: regexSource,
    notExpect: regexSource,
    timeout: ms('the time limit of the following sends'),
  }, { error: "must be an object with one of send, expect, notExpect, timeout, e.g. { send: 'ls' }" })
  .partial()
  .superRefine((step, ctx) => {
    const kinds = STEP_KINDS.filter((k) => step[k] !== undefined);
    if (kinds.length !== 1) {
      ctx.addIssue({ code: 'custom', message: `a step has exactly one of ${STEP_KINDS.join(', ')}; this one has ${kinds.length === 0 ? 'none' : kinds.join(' and ')}` });
    }
  })
  // Checked above: exactly one key, so the step is one of ShellStep's shapes.
  .transform((step) => step as ShellStep);

const shellTestSchema = z.strictObject({
  name: z.string({ error: 'must be a kebab-case name' }).regex(/^[a-z0-9][a-z0-9-]*$/, { error: 'must be a kebab-case name (a-z, 0-9, -), e.g. list-files' }),
  title: z.string({ error: 'must be a string' }).optional(),
  steps: z.array(stepSchema, { error: 'must be an array of steps' }).min(1, { error: 'must hold at least one step' }),
}, { error: "must be an object { name, title?, steps }" });

export const shellTestsSchema = z
  .array(shellTestSchema, { error: 'must be an array of { name, title?, steps } shell tests' })
  .superRefine((tests, ctx) => {
    const seen = new Set<string>();
    tests.forEach((t, i) => {
      if (seen.has(t.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `'${t.name}' is used by an earlier shell test: names must be unique` });
      seen.add(t.name);
    });
  });

/** The valid keys of each object in `shell` and `shellTests`, keyed by the field holding it, for unknown-key errors. */
export const SHELL_KEYS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  shell: Object.keys(shellSchema.shape),
  shellTests: Object.keys(shellTestSchema.shape),
  steps: [...STEP_KINDS],
});

export const SHELL_FIELD_FIXES: Readonly<Record<string, string>> = Object.freeze({
  shell: "shell: { prompt: 'fixture> $', lineEnding: '\\r', echo: true } for a kernel with a shell on its serial console",
  prompt: "the prompt as a JavaScript regex source, matched without ANSI escapes, e.g. prompt: '^/ # $'",
  lineEnding: "what ends a typed command: lineEnding: '\\r' (Enter, the default), '\\n' or '\\r\\n'",
  charDelayMs: 'a pause between typed characters for a slow UART, e.g. charDelayMs: 5',
  echo: 'echo: false when the kernel does not echo typed characters (default true)',
  timeoutMs: 'how long one command may take to bring the prompt back, e.g. timeoutMs: 10000',
  shellTests: "shellTests: [{ name: 'files', steps: [{ send: 'ls' }, { expect: 'hello\\\\.txt' }] }]",
  name: "a kebab-case name, unique among the target's shell tests, e.g. name: 'list-files'",
  title: "a short title string, e.g. title: 'the files on the second disk'",
  steps: "steps: [{ send: 'ls' }, { expect: 'regex' }, { notExpect: 'regex' }, { timeout: 5000 }], one key per step",
  send: "send: 'ls', one command line",
  expect: "expect: 'hello\\\\.txt', a JavaScript regex source matched against the last command's output",
  notExpect: "notExpect: 'error', a JavaScript regex source that must not match the last command's output",
  timeout: 'timeout: 5000, the time limit in ms of the following send steps',
});
