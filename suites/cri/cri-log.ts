import type { NodeFiles } from './node-files.js';

/**
 * The CRI container log format, as the kubelet reads it: one record per line,
 * `<RFC3339Nano time> <stdout|stderr> <tags> <text>\n`, where the first tag is F (the text ends a
 * line) or P (a part: the line goes on in the next record of the stream; the runtime splits lines
 * longer than its maximum, and a last line that never got its newline stays P). Extra tags follow
 * the first after ':'.
 */
export interface LogRecord {
  /** 1-based line number in the file. */
  line: number;
  time: string;
  /** The time in ns since the epoch. */
  ns: bigint;
  stream: 'stdout' | 'stderr';
  partial: boolean;
  text: Buffer;
}

/** A line of the container's output: the texts of its records joined. */
export interface LogMessage {
  stream: 'stdout' | 'stderr';
  text: string;
  bytes: Buffer;
  /** The records it was written in: P… then F; a message still missing its F is `complete: false`. */
  parts: LogRecord[];
  complete: boolean;
}

const RFC3339_NANO = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/;

/** ns since the epoch of an RFC3339Nano time, or undefined when it is not one. */
export function parseTime(time: string): bigint | undefined {
  const m = RFC3339_NANO.exec(time);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/**
 * The complete records of a log file (a last line without its newline is still being written and
 * is left out). A line that is not a record throws, naming the line and showing it.
 */
export function parseLog(data: Buffer, path: string): LogRecord[] {
  const records: LogRecord[] = [];
  let at = 0;
  for (let line = 1; ; line++) {
    const end = data.indexOf(0x0a, at);
    if (end < 0) break;
    const raw = data.subarray(at, end);
    at = end + 1;
    // The header is ASCII: time, stream, tags, each followed by one space; the text is the rest, verbatim.
    const fields: string[] = [];
    let from = 0;
    for (let i = 0; i < 3; i++) {
      const space = raw.indexOf(0x20, from);
      if (space < 0) break;
      fields.push(raw.subarray(from, space).toString('latin1'));
      from = space + 1;
    }
    const [time = '', stream = '', tags = ''] = fields;
    const ns = parseTime(time);
    const tag = tags.split(':')[0];
    if (fields.length < 3 || ns === undefined || (stream !== 'stdout' && stream !== 'stderr') || (tag !== 'P' && tag !== 'F')) {
      throw new Error(`line ${line} of ${path} is not '<RFC3339Nano time> <stdout|stderr> <P|F> <text>': '${raw.toString('utf8').slice(0, 200)}'`);
    }
    records.push({ line, time, ns, stream, partial: tag === 'P', text: Buffer.from(raw.subarray(from)) });
  }
  return records;
}

/** The messages of the log, in file order of their last record; `stream` keeps one stream. */
export function messages(records: readonly LogRecord[], stream?: 'stdout' | 'stderr'): LogMessage[] {
  const out: LogMessage[] = [];
  const open: Record<string, LogRecord[]> = { stdout: [], stderr: [] };
  const emit = (s: 'stdout' | 'stderr', parts: LogRecord[], complete: boolean) => {
    const bytes = Buffer.concat(parts.map((p) => p.text));
    out.push({ stream: s, bytes, text: bytes.toString('utf8'), parts, complete });
  };
  for (const r of records) {
    if (stream && r.stream !== stream) continue;
    open[r.stream]!.push(r);
    if (r.partial) continue;
    emit(r.stream, open[r.stream]!, true);
    open[r.stream] = [];
  }
  for (const s of ['stdout', 'stderr'] as const) if (open[s]!.length > 0) emit(s, open[s]!, false);
  return out;
}

/** The texts of the complete messages of one stream. */
export const lines = (records: readonly LogRecord[], stream: 'stdout' | 'stderr') => messages(records, stream).filter((m) => m.complete).map((m) => m.text);

/**
 * The records of the log at `path` on the node once `done` holds for them (the runtime may still be
 * copying output when the container has exited); fails at the deadline showing the file's tail.
 */
export async function readLog(files: NodeFiles, path: string, done: (records: LogRecord[]) => boolean, what: string, timeoutMs = 30_000): Promise<LogRecord[]> {
  const deadline = Date.now() + timeoutMs;
  let data: Buffer = Buffer.alloc(0);
  let problem = '';
  for (;;) {
    try {
      data = await files.read(path);
      const records = parseLog(data, path);
      if (done(records)) return records;
      problem = '';
    } catch (err) {
      problem = (err as Error).message;
      // A malformed line will not heal by waiting.
      if (/ is not '</.test(problem)) throw err;
    }
    if (Date.now() > deadline) {
      const tail = data.toString('utf8').split('\n').slice(-6).join('\n').slice(-1500);
      throw new Error(`the container log ${path} (read through ${files.via}) did not ${what} within ${timeoutMs} ms${problem ? ` (${problem})` : ''}; it ends:\n${tail || '(empty)'}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
