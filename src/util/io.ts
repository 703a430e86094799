/**
 * Where the CLI (and the commands other rooms register, e.g. jupyter/install.ts) writes: stdout for results, stderr
 * for the one-line errors. main() may be given other sinks (the
 * tests and the CLI fuzzer run it in-process and capture both without touching process.stdout).
 *
 * @example
 * io.out('done\n'); io.err('codecllm: x: bad [E_ARG]\n');
 */
export interface CliIO {
  out(s: string): void;
  err(s: string): void;
}

const processIO: CliIO = {
  out: (s) => void process.stdout.write(s),
  err: (s) => void process.stderr.write(s),
};

let current: CliIO = processIO;

/** The CLI's current output sinks. */
export const io: CliIO = {
  out: (s) => current.out(s),
  err: (s) => current.err(s),
};

/**
 * Run `f` with other sinks (restored afterwards, also on failure).
 * @example
 * await withIO({ out: (s) => buf.push(s), err: (s) => errs.push(s) }, () => main(argv));
 */
export async function withIO<T>(sinks: CliIO | undefined, f: () => Promise<T>): Promise<T> {
  if (!sinks) return f();
  const prev = current;
  current = sinks;
  try {
    return await f();
  } finally {
    current = prev;
  }
}
