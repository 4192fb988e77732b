// Replica output kept on disk with a bounded size: one current file and one
// rotated predecessor, each at most `maxBytes`. Writes are synchronous appends
// so a crash of the agent loses nothing already written by a replica.
import { closeSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';

export class RotatingLog {
  readonly path: string;
  readonly #maxBytes: number;
  #fd: number;
  #size: number;

  constructor(path: string, maxBytes: number) {
    this.path = path;
    this.#maxBytes = maxBytes;
    this.#fd = openSync(path, 'a', 0o600);
    this.#size = statSync(path).size;
  }

  write(chunk: Buffer | string): void {
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (this.#size + data.length > this.#maxBytes && this.#size > 0) this.#rotate();
    writeSync(this.#fd, data);
    this.#size += data.length;
  }

  close(): void {
    closeSync(this.#fd);
  }

  #rotate(): void {
    closeSync(this.#fd);
    renameSync(this.path, `${this.path}.1`);
    this.#fd = openSync(this.path, 'a', 0o600);
    this.#size = 0;
  }
}

/** The last `n` lines of a rotating log (the rotated file first), or [] when none was written. */
export function tailLines(path: string, n: number): string[] {
  const read = (p: string) => {
    try {
      return readFileSync(p, 'utf8');
    } catch {
      return '';
    }
  };
  const text = read(`${path}.1`) + read(path);
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.slice(Math.max(0, lines.length - n));
}
