/**
 * The codecllm command line. Each capability registers its own commands; human output by default, JSON with --json,
 * progress bars on stderr when it is a TTY.
 *
 * Error contract: every failure is one line on stderr, `codecllm: <file or subject>: <problem> [E_CODE]`, and exit
 * status 1 — our own errors (CodecLLMError), commander's usage errors (unknown option or command, missing argument,
 * too many arguments: mapped to E_ARG, prefixed by the command), file-system errors (E_IO, naming the path), and
 * anything unexpected (E_INTERNAL). `--help` and `--version` exit 0.
 */
import { Command, CommanderError } from 'commander';
import { registerModelCommands } from './model-commands.js';
import { registerCodecCommands } from './codec-commands.js';
import { registerQuantCommands } from './quant-commands.js';
import { registerEngineCommands } from './engine-commands.js';
import { registerKernelCommand } from '../jupyter/install.js';
import { registerReportCommand } from '../report/report.js';
import { err, isCodecError, msg, type CodecLLMError } from '../messages.js';
import { ioError } from '../util/files.js';
import { io, withIO, type CliIO } from '../util/io.js';

/**
 * @example
 * buildProgram().commands.map((c) => c.name()) // ['info', 'generate', 'eval', …]
 */
export function buildProgram(): Command {
  const program = new Command();
  program.name('codecllm').description('LLM weight-compression workbench: quantize, compress, patch, run, measure').version('0.1.0');
  registerModelCommands(program);
  registerQuantCommands(program);
  registerEngineCommands(program);
  registerCodecCommands(program);
  registerKernelCommand(program);
  registerReportCommand(program);
  return program;
}

/** Full name of a command ('kernel install'). */
function commandPath(c: Command): string {
  const names: string[] = [];
  for (let x: Command | null = c; x; x = x.parent) names.unshift(x.name());
  return names.slice(1).join(' ') || 'usage';
}

/**
 * Make every command throw instead of exiting and print nothing itself; remember which command failed.
 * @example
 * const where = quietCommander(program); // where.command after a failed parse
 */
export function quietCommander(program: Command): { command: Command } {
  const where = { command: program };
  const visit = (c: Command) => {
    c.exitOverride();
    c.configureOutput({
      writeOut: (s) => io.out(s), // --help, --version
      writeErr: () => {
        where.command = c; // help for a missing subcommand (exit 1) is replaced by a one-line error
      },
      outputError: () => {
        where.command = c;
      },
    });
    c.hook('preAction', (_t, actionCommand) => {
      where.command = actionCommand;
    });
    for (const s of c.commands) visit(s);
  };
  visit(program);
  return where;
}

/**
 * Any thrown value as a CodecLLMError (commander usage errors: E_ARG; Node fs errors: E_IO; others: E_INTERNAL).
 * @example
 * toCodecError(new TypeError('x is undefined'), 'generate').code // 'E_INTERNAL'
 */
export function toCodecError(e: unknown, command: string, subcommands: readonly string[] = []): CodecLLMError {
  if (isCodecError(e)) return e;
  if (e instanceof CommanderError) {
    if (e.code === 'commander.help' || e.code === 'commander.missingCommand')
      return err('E_ARG', msg.cliUsage(command, `missing command (expected one of: ${subcommands.join(', ')})`), e);
    const line = e.message.replace(/^error:\s*/, '').replace(/\s*\n\s*/g, ' ').trim(); // '(Did you mean --json?)' joins the line
    return err('E_ARG', msg.cliUsage(command, line), e);
  }
  const ne = e as NodeJS.ErrnoException;
  if (ne && typeof ne.code === 'string' && /^E[A-Z]+$/.test(ne.code) && typeof ne.path === 'string') return ioError(ne.path, e) as CodecLLMError;
  const text = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return err('E_INTERNAL', msg.internal(text.replace(/\s*\n\s*/g, ' ')), e);
}

/**
 * Run the CLI on argv; resolves when the command finishes. Errors are printed as one line with exit code 1.
 * `sinks` replace stdout/stderr (in-process callers: tests, the CLI fuzzer).
 * @example
 * await main(['node', 'codecllm', 'info', 'default', '--json']);
 */
export async function main(argv: string[], sinks?: CliIO): Promise<void> {
  return withIO(sinks, () => run(argv));
}

async function run(argv: string[]): Promise<void> {
  const program = buildProgram();
  const where = quietCommander(program);
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError && e.exitCode === 0) {
      process.exitCode = 0; // --help, --version
      return;
    }
    const c = where.command;
    const ce = toCodecError(e, commandPath(c), c.commands.map((s) => s.name()));
    io.err(`codecllm: ${ce.message.replace(/\s*\n\s*/g, ' ')} [${ce.code}]\n`);
    if (process.env.CODECLLM_DEBUG) io.err(((ce.cause as Error | undefined)?.stack ?? ce.stack ?? '') + '\n');
    process.exitCode = 1;
  }
}
