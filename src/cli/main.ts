/**
 * The codecllm command line. Each capability registers its own commands; human output by default, JSON with --json,
 * progress bars on stderr when it is a TTY. Errors print one line (`codecllm: <file>: <problem>`) and exit 1.
 */
import { Command, CommanderError } from 'commander';
import { registerModelCommands } from './model-commands.js';
import { registerCodecCommands } from './codec-commands.js';
import { registerQuantCommands } from './quant-commands.js';
import { registerEngineCommands } from './engine-commands.js';
import { registerShapeCommands } from './shape-commands.js';
import { registerKernelCommand } from '../kernel/install.js';
import { registerReportCommand } from '../report/report.js';
import { isCodecError } from '../messages.js';

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
  registerShapeCommands(program);
  registerKernelCommand(program);
  registerReportCommand(program);
  return program;
}

/**
 * Run the CLI on argv; resolves when the command finishes. Errors are printed as one line with exit code 1.
 * @example
 * await main(['node', 'codecllm', 'info', 'default', '--json']);
 */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode;
      return;
    }
    const code = isCodecError(e) ? ` [${e.code}]` : '';
    process.stderr.write(`codecllm: ${(e as Error).message}${code}\n`);
    if (process.env.CODECLLM_DEBUG) process.stderr.write(((e as Error).stack ?? '') + '\n');
    process.exitCode = 1;
  }
}
