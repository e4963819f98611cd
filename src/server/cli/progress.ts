/**
 * Progress for long runs, on one rewritten line of stderr, only when stderr is a terminal (pipes and logs stay
 * clean). `done()` clears the line.
 */
export interface Progress {
  update(text: string): void;
  done(): void;
}

export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) {
    return { update() {}, done() {} };
  }
  const clear = '\r\x1b[K';
  return {
    update(text) {
      stream.write(`${clear}${text.slice(0, (stream.columns || 80) - 1)}`);
    },
    done() {
      stream.write(clear);
    },
  };
}
