/**
 * Drive the real CodecLLM kernel over ZMQ as a frontend would: jupyter_client starts it from an installed
 * kernelspec, and each step sends requests and records every iopub message (in arrival order) and shell reply.
 * Used by the test/kernel-*.test.ts files.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { installKernel } from '../src/jupyter/install.js';
import { pythonWithNbclient } from './kernel-helpers.js';

export const py = pythonWithNbclient();
/** Skip reason (outside CI, when Python's jupyter_client is missing), or false. */
export const skipKernel = 'missing' in py && !process.env.CI ? py.missing : false;

/**
 * One step:
 *   { code }                       execute, wait for its idle
 *   { batch: [code, …] }           send all at once, then wait for the last one's idle (a "Run All")
 *   { code, interruptAfter: s }    execute, SIGINT the kernel after s seconds (Kernel → Interrupt)
 *   { complete: code } / { inspect: code, pos? }
 *   { kernelInfoAfter: s }         wait s seconds, then time a kernel_info round trip (StepResult.seconds)
 */
export type Step = { code: string; interruptAfter?: number } | { batch: string[] } | { complete: string } | { inspect: string; pos?: number } | { kernelInfoAfter: number };

export interface IopubMsg { type: string; parent: string; /** header.date: when the kernel made it */ date: string; /** when the driver received it (s since epoch) */ recv: number; content: Record<string, unknown> & { execution_state?: string; name?: string; text?: string; data?: Record<string, unknown>; transient?: { display_id?: string }; ename?: string; evalue?: string; traceback?: string[]; execution_count?: number } }
export interface Reply { msg_id: string; content: Record<string, unknown> & { status: string; execution_count?: number; matches?: string[]; found?: boolean; data?: Record<string, string>; ename?: string; evalue?: string } }
export interface StepResult { ids: string[]; iopub: IopubMsg[]; replies: Reply[]; seconds?: number }
export interface KernelRun { startS: number; steps: StepResult[] }

const DRIVER = String.raw`
import json, sys, time
from jupyter_client.manager import start_new_kernel
req = json.load(sys.stdin)
t0 = time.time()
km, kc = start_new_kernel(kernel_name=req["kernel"], cwd=req["cwd"], startup_timeout=90)
start_s = time.time() - t0
steps = []
def iopub_until_idle(ids):
    out, pending = [], set(ids)
    while pending:
        m = kc.get_iopub_msg(timeout=120)
        p = m["parent_header"].get("msg_id")
        out.append({"type": m["msg_type"], "parent": p, "content": m["content"], "date": str(m["header"].get("date", "")), "recv": time.time()})
        if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle" and p in pending:
            pending.discard(p)
    return out
def replies_for(ids):
    got, want = {}, set(ids)
    while want - set(got):
        r = kc.get_shell_msg(timeout=120)
        p = r["parent_header"].get("msg_id")
        if p in want:
            got[p] = {"msg_id": p, "content": r["content"]}
    return [got[i] for i in ids]
try:
    for step in req["steps"]:
        if "kernelInfoAfter" in step:
            time.sleep(step["kernelInfoAfter"])
            t = time.time()
            ids = [kc.kernel_info()]
            replies = replies_for(ids)
            steps.append({"ids": ids, "iopub": [], "replies": replies, "seconds": time.time() - t})
            continue
        if "batch" in step:
            ids = [kc.execute(c) for c in step["batch"]]
        elif "complete" in step:
            ids = [kc.complete(step["complete"], len(step["complete"]))]
        elif "inspect" in step:
            code = step["inspect"]
            ids = [kc.inspect(code, step.get("pos", len(code)))]
        else:
            ids = [kc.execute(step["code"])]
            if "interruptAfter" in step:
                time.sleep(step["interruptAfter"])
                km.interrupt_kernel()
        iopub = iopub_until_idle(ids)
        steps.append({"ids": ids, "iopub": iopub, "replies": replies_for(ids)})
        if any(r["content"].get("status") == "error" for r in steps[-1]["replies"]):
            time.sleep(0.2)
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=True)
print(json.dumps({"startS": start_s, "steps": steps}))
`;

/** Start the kernel serving `packageRoot` in a fresh folder, run `steps`, shut it down. */
export function runKernel(packageRoot: string, steps: Step[]): KernelRun {
  const prefix = mkdtempSync(path.join(tmpdir(), 'codecllm-kx-'));
  installKernel({ prefix, packageRoot, name: 'codecllm-test' });
  const cwd = mkdtempSync(path.join(tmpdir(), 'codecllm-nbdir-'));
  const r = spawnSync('python' in py ? py.python : 'python3', ['-c', DRIVER], {
    input: JSON.stringify({ kernel: 'codecllm-test', cwd, steps }),
    encoding: 'utf8',
    env: { ...process.env, JUPYTER_PATH: path.join(prefix, 'share', 'jupyter') },
    timeout: 300_000,
    maxBuffer: 64 << 20,
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as KernelRun;
}

/** Outputs of one request: iopub messages of its parent, minus status and execute_input. */
export function outputs(s: StepResult, i = 0): IopubMsg[] {
  return s.iopub.filter((m) => m.parent === s.ids[i] && m.type !== 'status' && m.type !== 'execute_input');
}
export const streamText = (s: StepResult, name: 'stdout' | 'stderr', i = 0) =>
  outputs(s, i).filter((o) => o.type === 'stream' && o.content.name === name).map((o) => o.content.text).join('');
export const errorOf = (s: StepResult, i = 0) => outputs(s, i).find((o) => o.type === 'error')?.content;
export const resultText = (s: StepResult, i = 0) => outputs(s, i).find((o) => o.type === 'execute_result')?.content.data?.['text/plain'];
