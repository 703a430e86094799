'use strict';
/**
 * The Jupyter wire protocol (messaging spec 5.3), ours rather than tslab's: parse and sign the multipart ZMQ
 * frames  [identities…, "<IDS|MSG>", hmac, header, parent_header, metadata, content, buffers…].
 * https://jupyter-client.readthedocs.io/en/latest/messaging.html#the-wire-protocol
 */
const { createHmac, randomUUID } = require('node:crypto');

const DELIM = Buffer.from('<IDS|MSG>');
const PROTOCOL_VERSION = '5.3';

/** One kernel process = one session id (the `session` of every header this kernel sends). */
const SESSION = randomUUID();

/**
 * Signer for a connection file's key and scheme ("hmac-sha256"); an empty key means unsigned messages.
 * @example sign(['{}', '{}', '{}', '{}']) // '9f…' (hex digest over the four JSON frames)
 */
function signer(key, scheme = 'hmac-sha256') {
  const alg = String(scheme).replace(/^hmac-/, '');
  return (frames) => {
    if (!key) return '';
    const h = createHmac(alg, key);
    for (const f of frames) h.update(f);
    return h.digest('hex');
  };
}

/**
 * Parse one multipart message; throws on a missing delimiter or a bad signature.
 * @returns {{ identities: Buffer[], header: object, parent: object, metadata: object, content: object, buffers: Buffer[] }}
 */
function parse(frames, sign) {
  const i = frames.findIndex((f) => Buffer.from(f).equals(DELIM));
  if (i < 0) throw new Error('jupyter message without <IDS|MSG> delimiter');
  const [hmac, ...rest] = frames.slice(i + 1);
  const parts = rest.slice(0, 4);
  if (parts.length < 4) throw new Error('jupyter message with fewer than 4 frames');
  const want = sign(parts);
  if (want && String(hmac) !== want) throw new Error('jupyter message with a bad signature');
  const [header, parent, metadata, content] = parts.map((p) => JSON.parse(String(p)));
  return { identities: frames.slice(0, i), header, parent, metadata, content, buffers: rest.slice(4) };
}

/**
 * Frames of a message of `msgType` answering `parent` (a parsed message, or null for none).
 * @example encode(sign, 'status', req, { execution_state: 'busy' })
 */
function encode(sign, msgType, parent, content, identities = []) {
  const header = {
    msg_id: randomUUID(),
    session: SESSION,
    username: 'kernel',
    date: new Date().toISOString(),
    msg_type: msgType,
    version: PROTOCOL_VERSION,
  };
  const parts = [header, parent ? parent.header : {}, {}, content].map((o) => JSON.stringify(o));
  return [...identities, DELIM, sign(parts), ...parts];
}

module.exports = { parse, encode, signer, PROTOCOL_VERSION, SESSION };
