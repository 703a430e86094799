'use strict';
/**
 * The CodecLLM kernel's Jupyter messaging (ours; tslab 1.0.22's ZmqServer is not used):
 *
 * - shell requests are handled one at a time, in arrival order, each between its own `busy` and `idle` (tslab
 *   handled them concurrently, so the status said idle while queued cells still ran);
 * - every execute_request gets an execution count, an `execute_input`, then outputs, then the reply; a value
 *   left by the last expression is an `execute_result`, an error is an `error` output (and the reply carries
 *   ename/evalue/traceback); after an error, execute requests already queued are answered `aborted` (stop on
 *   error), unless the failed request said stop_on_error: false;
 * - the sockets are bound and kernel_info answered before the slow part (loading the library, building the
 *   TypeScript service: ~10 s) starts; requests that need the session wait for it (status busy meanwhile);
 * - control: shutdown and interrupt (also SIGINT: interrupt_mode "signal") are answered at once.
 */
const wire = require('./wire.cjs');

/** After an error, execute requests read within this many ms are aborted too (tslab used 200 ms). */
const ABORT_WINDOW_MS = 100;
const BANNER = 'CodecLLM (TypeScript): tslab 1.0.22 compiler + codecllm kernel-ext';

class KernelServer {
  /**
   * @param conn  the connection file's content
   * @param zmq   the zeromq 6 module
   * @param hooks { ready: Promise<session> (async run(code, cellId) → { ok, error } | { ok, result, warnings },
   *                complete, inspect, isComplete), interrupt(), shutdown(), log(text) (the kernel's own stderr),
   *                answered() when a request comes, version, languageVersion }
   * Outputs of a running cell arrive through `output(cellId, type, content)`.
   */
  constructor(conn, zmq, hooks) {
    this.conn = conn;
    this.zmq = zmq;
    this.hooks = hooks;
    this.sign = wire.signer(conn.key, conn.signature_scheme);
    this.count = 0;
    this.seq = 0; // arrival number of shell messages
    this.abortUpTo = 0; // execute requests that arrived at or before this number are aborted …
    this.abortUntil = 0; // … and those read before this time (performance.now()): a "Run All" sent with the failed one
    this.queue = Promise.resolve();
    this.closed = false;
    this.inFlight = 0; // requests between their busy and idle
    this.cells = new Map(); // execute msg_id → { req, silent }: where a cell's outputs go (also later ones)
    this.starting = false; // the slow start (library, TypeScript) is running
  }

  async start() {
    const z = this.zmq;
    const c = this.conn;
    this.iopub = new z.Publisher();
    this.shell = new z.Router();
    this.control = new z.Router();
    this.stdin = new z.Router();
    this.hb = new z.Reply();
    const addr = (port) => `${c.transport}://${c.ip}:${port}`;
    await Promise.all([
      this.iopub.bind(addr(c.iopub_port)),
      this.shell.bind(addr(c.shell_port)),
      this.control.bind(addr(c.control_port)),
      this.stdin.bind(addr(c.stdin_port)),
      this.hb.bind(addr(c.hb_port)),
    ]);
    this.loop(this.shell, (frames) => {
      const n = ++this.seq;
      const at = performance.now();
      this.queue = this.queue.then(() => this.handle(this.shell, frames, n, at)).catch((e) => this.log('shell', e));
    });
    this.loop(this.control, (frames) => this.handle(this.control, frames, 0).catch((e) => this.log('control', e)));
    this.loop(this.hb, (frames) => this.hb.send(frames));
    this.publish('status', null, { execution_state: 'starting' });
  }

  loop(sock, fn) {
    (async () => {
      try {
        for await (const frames of sock) fn(frames);
      } catch (e) {
        if (!this.closed) this.log('socket', e);
      }
    })();
  }

  log(where, e) {
    this.hooks.log(`codecllm kernel (${where}): ${e && e.stack ? e.stack : e}\n`);
  }

  publish(type, parent, content) {
    if (this.closed) return;
    this.iopub.send(wire.encode(this.sign, type, parent, content)).catch((e) => this.log('iopub', e));
  }

  reply(sock, req, type, content) {
    if (this.closed) return;
    sock.send(wire.encode(this.sign, type, req, content, req.identities)).catch((e) => this.log('reply', e));
  }

  async handle(sock, frames, n, at = 0) {
    let req;
    try {
      req = wire.parse(frames, this.sign);
    } catch (e) {
      return this.log('parse', e);
    }
    const type = req.header.msg_type;
    this.inFlight++;
    this.publish('status', req, { execution_state: 'busy' });
    if (type !== 'kernel_info_request') this.hooks.answered?.(); // the slow start may begin (this request may need it)
    try {
      switch (type) {
        case 'kernel_info_request':
          return this.reply(sock, req, 'kernel_info_reply', this.kernelInfo());
        case 'execute_request':
          return await this.execute(sock, req, n, at);
        case 'complete_request': {
          const s = await this.hooks.ready;
          const { code, cursor_pos: pos } = req.content;
          const r = await s.complete(code, pos);
          return this.reply(sock, req, 'complete_reply', { status: 'ok', matches: r.candidates, cursor_start: r.start, cursor_end: r.end, metadata: {} });
        }
        case 'inspect_request': {
          const s = await this.hooks.ready;
          const text = await s.inspect(req.content.code, req.content.cursor_pos);
          return this.reply(sock, req, 'inspect_reply', { status: 'ok', found: text !== null, data: text === null ? {} : { 'text/plain': text }, metadata: {} });
        }
        case 'is_complete_request': {
          const s = await this.hooks.ready;
          const r = await s.isComplete(req.content.code);
          return this.reply(sock, req, 'is_complete_reply', r.completed ? { status: 'complete' } : { status: 'incomplete', indent: r.indent });
        }
        case 'comm_info_request':
          return this.reply(sock, req, 'comm_info_reply', { status: 'ok', comms: {} });
        case 'history_request':
          return this.reply(sock, req, 'history_reply', { status: 'ok', history: [] });
        case 'interrupt_request':
          this.hooks.interrupt();
          return this.reply(sock, req, 'interrupt_reply', { status: 'ok' });
        case 'shutdown_request':
          this.reply(sock, req, 'shutdown_reply', { status: 'ok', restart: !!req.content.restart });
          setTimeout(() => this.hooks.shutdown(), 50);
          return;
        default:
          this.log('shell', `unsupported message type ${type}`);
      }
    } finally {
      this.inFlight--;
      // while the slow start runs the kernel is not idle: say busy (the start's own idle follows)
      this.publish('status', req, { execution_state: this.starting ? 'busy' : 'idle' });
      this.hooks.answered?.();
    }
  }

  /**
   * Show the slow start as Busy (JupyterLab takes any status message as the kernel's state): `busy` now, requests
   * answered meanwhile end with `busy` too, and `idle` comes when `done` settles (unless a request is in flight:
   * its own idle follows). A frontend that connects during the start thus never sees Idle before it is over.
   */
  startingWork(done) {
    this.starting = true;
    this.publish('status', null, { execution_state: 'busy' });
    const end = () => {
      this.starting = false;
      if (this.inFlight === 0) this.publish('status', null, { execution_state: 'idle' });
    };
    done.then(end, end);
  }

  kernelInfo() {
    return {
      status: 'ok',
      protocol_version: wire.PROTOCOL_VERSION,
      implementation: 'codecllm',
      implementation_version: this.hooks.version || '0',
      language_info: {
        name: 'typescript',
        version: this.hooks.languageVersion || '',
        mimetype: 'text/typescript',
        file_extension: '.ts',
        // JupyterLab picks its TypeScript highlighting from `mode`; the classic notebook from name + typescript.
        codemirror_mode: { mode: 'typescript', name: 'javascript', typescript: true },
      },
      banner: BANNER,
      help_links: [],
    };
  }

  async execute(sock, req, n, at) {
    const { code = '', silent = false, stop_on_error: stopOnError = true } = req.content;
    const storeHistory = req.content.store_history ?? !silent;
    if (n > 0 && (n <= this.abortUpTo || at <= this.abortUntil)) {
      return this.reply(sock, req, 'execute_reply', { status: 'aborted', execution_count: this.count });
    }
    if (!silent && storeHistory) this.count++;
    const count = this.count;
    if (!silent) this.publish('execute_input', req, { code, execution_count: count });
    const session = await this.hooks.ready;
    const id = req.header.msg_id;
    this.cells.set(id, { req, silent });
    if (this.cells.size > 64) this.cells.delete(this.cells.keys().next().value);
    let r;
    try {
      r = await session.run(code, id);
    } catch (e) {
      // the session itself failed (not the cell): report it as the cell's error
      r = { ok: false, error: { ename: 'KernelError', evalue: String(e && e.message), traceback: [String(e && e.stack)] } };
    }
    if (!r.ok) {
      if (!silent) this.publish('error', req, r.error);
      // Like ipykernel's stop_on_error: abort what is queued, and what arrives in the next moment (the rest of a
      // "Run All" that our read loop has not picked up yet); a person's next click comes later and runs.
      if (stopOnError) (this.abortUpTo = this.seq), (this.abortUntil = performance.now() + ABORT_WINDOW_MS);
      return this.reply(sock, req, 'execute_reply', { status: 'error', execution_count: count, ...r.error });
    }
    for (const w of r.warnings) this.output(id, 'stream', { name: 'stderr', text: w + '\n' });
    if (r.result && !silent) this.publish('execute_result', req, { execution_count: count, data: r.result, metadata: {} });
    return this.reply(sock, req, 'execute_reply', { status: 'ok', execution_count: count, payload: [], user_expressions: {} });
  }

  /** Publish an output (`stream`, `display_data`, `update_display_data`) of the cell run by execute request `id`. */
  output(id, type, content) {
    const cell = this.cells.get(id);
    if (!cell || cell.silent || (type === 'stream' && !content.text)) return;
    this.publish(type, cell.req, content);
  }

  close() {
    this.closed = true;
    for (const s of [this.iopub, this.shell, this.control, this.stdin, this.hb]) s?.close();
  }
}

module.exports = { KernelServer };
