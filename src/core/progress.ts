/**
 * Progress for long steps (download, image build, boot). On a TTY a single line is rewritten in
 * place; elsewhere (CI logs) only the step's start and its outcome are printed.
 */
export interface Progress {
  step<T>(label: string, work: () => Promise<T>): Promise<T>;
}

export function createProgress(stream: NodeJS.WriteStream = process.stderr, quiet = false): Progress {
  return {
    async step(label, work) {
      if (quiet) return work();
      const tty = stream.isTTY === true;
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      if (tty) {
        const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
        let i = 0;
        const draw = () => stream.write(`\r\x1b[2K${frames[i++ % frames.length]} ${label} ${((Date.now() - started) / 1000).toFixed(1)}s`);
        draw();
        timer = setInterval(draw, 100);
      } else {
        stream.write(`${label}...\n`);
      }
      const secs = () => ((Date.now() - started) / 1000).toFixed(1);
      try {
        const result = await work();
        if (timer) clearInterval(timer);
        stream.write(tty ? `\r\x1b[2K✓ ${label} (${secs()}s)\n` : `${label}: done (${secs()}s)\n`);
        return result;
      } catch (err) {
        if (timer) clearInterval(timer);
        stream.write(tty ? `\r\x1b[2K✗ ${label} (${secs()}s)\n` : `${label}: failed (${secs()}s)\n`);
        throw err;
      }
    },
  };
}
