/**
 * The wire format of the kubelet streaming protocols that a CRI runtime's streaming server speaks
 * at the URLs Exec, Attach and PortForward return, over WebSocket. Pure: frames, statuses, URLs.
 *
 * What the servers accept (containerd 1.6.20's `pkg/cri/streaming`, which is the kubelet's
 * streaming server; unchanged in containerd 2.3 as `k8s.io/cri-streaming`):
 *
 * - Transport: a GET with `Upgrade: websocket` gets WebSocket; anything else gets SPDY
 *   (`X-Stream-Protocol-Version`). WebSocket covers all three operations, so tsuite has no SPDY.
 * - The URL is `<base>/exec|attach|portforward/<token>`. The token is a one-time capability: it is
 *   consumed by the first request, expires after one minute (containerd), and an unknown or used
 *   one is answered 404. It is kept out of every message tsuite prints (`redactStreamUrl`).
 * - Options live in the token, not the URL: stdin/stdout/stderr/tty come from the ExecRequest or
 *   AttachRequest (the `stdin=1&tty=1…` query that apiserver→kubelet requests carry is not read),
 *   and the forwarded ports from PortForwardRequest.port (the `?port=` query is not read either).
 * - Subprotocols for exec/attach: `v4.channel.k8s.io`, `channel.k8s.io` (and their `base64.`
 *   text variants, and none at all). `v5.channel.k8s.io` (v4 + a close-channel message) is not
 *   accepted by containerd up to 2.3; it is offered first anyway for a server that has it. The
 *   server takes the first protocol in the client's list that it knows; none known is a 403.
 * - Each binary message is one channel byte followed by the payload. Exec/attach channels:
 *   0 stdin (client→server), 1 stdout, 2 stderr, 3 error/status, 4 resize (client→server, JSON
 *   `{"Width":w,"Height":h}`; sizes under 1 are ignored). With tty there is no stderr: the terminal
 *   merges it into stdout. Frames on channels the request did not ask for are dropped silently.
 * - Right after the upgrade the server sends one empty frame (on stdout, else stderr, else error)
 *   to say it is ready; an empty payload carries no data.
 * - The end: v4 sends the metav1.Status as JSON on channel 3 and closes the socket. Exit 0 is
 *   `{"status":"Success"}`; a non-zero exit is `{"status":"Failure","reason":"NonZeroExitCode",
 *   "details":{"causes":[{"reason":"ExitCode","message":"3"}]}}`; a failure to run at all is a
 *   Failure with reason `InternalError` and the runtime's message. `channel.k8s.io` (pre-v4) sends
 *   only the text of a failure, so tsuite does not offer it.
 * - Stdin EOF: v4 has no way to close stdin alone. Closing the socket closes stdin, but also ends
 *   the session, so output written after it and the status are lost. v5 sends `[255, 0]`. Over v4
 *   with a tty, EOF is the terminal's: Ctrl-D (0x04) at the start of a line ends a reading program.
 *   Without a tty, a command that reads stdin must end by itself (`read line; …`, `head -n 1`).
 * - Port forward: subprotocol `v4.channel.k8s.io` (or `base64.`, or none; SPDY's name for the same
 *   service is `portforward.k8s.io`). Two channels per port in the request's order: data 2i
 *   (both ways) and error 2i+1 (server→client). The first frame the server sends on each carries
 *   the port as 2 bytes little-endian; later data frames are raw bytes, and client frames are raw
 *   bytes with no port prefix. A failed forward writes its text on the error channel. One WebSocket
 *   carries one TCP connection per port: when the pod's side closes, the socket closes.
 */

/** Exec/attach channel numbers (the POSIX descriptors, then the two control channels). */
export const Channel = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4 } as const;
/** v5's close message: `[CLOSE_CHANNEL, channel]` half-closes that channel (stdin). */
export const CLOSE_CHANNEL = 255;
/** Subprotocols tsuite offers for exec/attach, preferred first. */
export const EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'] as const;
/** Subprotocols tsuite offers for port forward. */
export const PORT_FORWARD_PROTOCOLS = ['v4.channel.k8s.io'] as const;
/** What a terminal reads as end of input at the start of a line (VEOF, Ctrl-D). */
export const TTY_EOF = 0x04;

/** metav1.Status as the error channel carries it (only the fields tsuite reads). */
export interface StreamStatus {
  status: 'Success' | 'Failure' | string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { causes?: { reason?: string; message?: string }[] };
}

export interface TerminalSize {
  width: number;
  height: number;
}

/** One frame: the channel byte, then the payload. */
export function encodeFrame(channel: number, payload: Uint8Array | string = new Uint8Array(0)): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const frame = Buffer.allocUnsafe(body.length + 1);
  frame[0] = channel;
  frame.set(body, 1);
  return frame;
}

/** Splits a binary message into its channel and payload; an empty message has no channel. */
export function decodeFrame(message: Uint8Array): { channel: number; payload: Buffer } | undefined {
  if (message.length === 0) return undefined;
  const buf = Buffer.isBuffer(message) ? message : Buffer.from(message.buffer, message.byteOffset, message.length);
  return { channel: buf[0]!, payload: buf.subarray(1) };
}

/** The resize frame. The server reads Go's TerminalSize{Width, Height uint16} as JSON. */
export function resizeFrame(size: TerminalSize): Buffer {
  for (const [name, value] of Object.entries(size)) {
    if (!Number.isInteger(value) || value < 1 || value > 0xffff) throw new RangeError(`terminal ${name} must be an integer from 1 to 65535, not ${value}`);
  }
  return encodeFrame(Channel.resize, JSON.stringify({ Width: size.width, Height: size.height }));
}

/** v5's half-close of stdin. */
export const closeStdinFrame = (): Buffer => Buffer.from([CLOSE_CHANNEL, Channel.stdin]);

/** Parses what the error channel carried; undefined when it is empty (the session was cut). */
export function parseStatus(bytes: Uint8Array): StreamStatus | undefined {
  const text = Buffer.from(bytes).toString('utf8').trim();
  if (!text) return undefined;
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed && typeof parsed === 'object' && typeof (parsed as StreamStatus).status === 'string') return parsed as StreamStatus;
  } catch {
    /* not JSON: a pre-v4 server's failure text */
  }
  return { status: 'Failure', message: text };
}

/**
 * The exit code a status says: 0 for Success, N for NonZeroExitCode with an ExitCode cause, and
 * undefined when the status is a failure to run (InternalError and the like) rather than an exit.
 */
export function exitCodeOf(status: StreamStatus): number | undefined {
  if (status.status === 'Success') return 0;
  if (status.reason !== 'NonZeroExitCode') return undefined;
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  const code = Number(cause?.message);
  return cause?.message !== undefined && Number.isInteger(code) ? code : undefined;
}

/** The port that opens each port-forward channel, as 2 bytes little-endian. */
export function encodePortPrefix(port: number): Buffer {
  const buf = Buffer.alloc(2);
  buf.writeUInt16LE(port);
  return buf;
}

/** Reads a channel's opening port prefix; the rest of the frame (if any) is data. */
export function splitPortPrefix(payload: Buffer): { port: number; rest: Buffer } | undefined {
  if (payload.length < 2) return undefined;
  return { port: payload.readUInt16LE(0), rest: payload.subarray(2) };
}

/** The WebSocket URL for a streaming URL: http→ws, https→wss. */
export function webSocketUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.protocol === 'http:') parsed.protocol = 'ws:';
  else if (parsed.protocol === 'https:') parsed.protocol = 'wss:';
  else if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') throw new TypeError(`not a streaming URL (http, https, ws or wss): ${redactStreamUrl(url)}`);
  return parsed.toString();
}

/**
 * A streaming URL fit for messages: the last path segment (the one-time token) becomes `<token>`
 * and the query goes (`http://10.0.2.15:10010/exec/<token>`).
 */
export function redactStreamUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '<unparsable streaming URL>';
  }
  const segments = parsed.pathname.split('/');
  let last = segments.length - 1;
  while (last >= 0 && segments[last] === '') last--;
  if (last >= 0) segments[last] = '<token>';
  return `${parsed.protocol}//${parsed.host}${segments.join('/')}`;
}
