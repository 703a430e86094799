/**
 * Layer selection for patching: resolves a selector to FULL module paths, in module order.
 *
 *   all            every linear layer, lm_head included
 *   first:N        the first N linear layers in module order (block 0's q, k, v, o, gate, up, down, block 1's …,
 *                  lm_head last) — how the seed counted "1, 5, 10, 20, all 155 layers"
 *   blocks:a-b     every linear of blocks a..b inclusive (blocks:a for one block); lm_head is not in a block
 *   type:K[,K…]    by kind: q, k, v, o, gate, up, down, lm_head
 *   re:REGEX       full paths matching REGEX (JavaScript syntax, unanchored: write ^…$ to anchor)
 *   <full path>    exactly one module, e.g. model.layers.3.self_attn.q_proj or lm_head
 *   A&B            intersection: modules both select (binds tighter than +), e.g. blocks:10-19&type:gate,up,down
 *   A+B            union of selectors (each may be an intersection), still in module order
 *   (Selector text cannot contain '+' or '&' — write re: patterns without them.)
 *
 * Every selection resolves to a non-empty list (an empty one — an intersection of disjoint sets included — is an
 * E_PATCH error naming the selection); selectionSummary() says how many modules it chose and which.
 *
 * A short module name (q_proj, self_attn.q_proj, down_proj …) is an error, never a guess: the seed harness looked
 * layers up by short name, took the first match (layer 0) and installed it into every block.
 */
import { err, msg } from '../messages.js';

/** A linear layer as selection sees it (LlamaModel.linears() and names.linearPaths() both fit). */
export interface ModuleRef {
  readonly path: string;
  readonly kind: string;
  /** Block index; null for lm_head. */
  readonly layer: number | null;
}

export const LINEAR_KINDS = ['q', 'k', 'v', 'o', 'gate', 'up', 'down', 'lm_head'] as const;

/**
 * Resolve a selector against the model's linear layers (given in module order). Throws E_PATCH on a bad or empty
 * selection.
 * @example
 * resolveSelection(model.linears(), 'blocks:0-1+type:lm_head').map((m) => m.path)
 */
export function resolveSelection<M extends ModuleRef>(modules: readonly M[], select: string): M[] {
  const s = select.trim();
  if (s === '') throw err('E_PATCH', msg.selectEmpty());
  const chosen = new Set<M>();
  for (const term of s.split('+')) {
    // an intersection of one or more selectors
    let inter: Set<M> | null = null;
    for (const part of term.split('&')) {
      const got: M[] = resolveOne(modules, part.trim(), s);
      inter = inter === null ? new Set(got) : new Set(got.filter((m) => inter!.has(m)));
    }
    for (const m of inter!) chosen.add(m);
  }
  const out = modules.filter((m) => chosen.has(m));
  if (out.length === 0) throw err('E_PATCH', msg.selectNone(s));
  return out;
}

function resolveOne<M extends ModuleRef>(modules: readonly M[], part: string, whole: string): M[] {
  if (part === 'all') return [...modules];
  if (part.startsWith('first:')) {
    const t = part.slice('first:'.length);
    const n = /^[0-9]+$/.test(t) ? Number(t) : NaN;
    if (!(n >= 1 && n <= modules.length)) throw err('E_PATCH', msg.selectFirst(whole, modules.length));
    return modules.slice(0, n);
  }
  if (part.startsWith('blocks:')) {
    const layers = modules.reduce((n, m) => (m.layer === null ? n : Math.max(n, m.layer + 1)), 0);
    const mm = /^([0-9]+)(?:-([0-9]+))?$/.exec(part.slice('blocks:'.length));
    const a = mm ? Number(mm[1]) : NaN;
    const b = mm ? Number(mm[2] ?? mm[1]) : NaN;
    if (!(a >= 0 && a <= b && b < layers)) throw err('E_PATCH', msg.selectBlocks(whole, layers));
    return modules.filter((m) => m.layer !== null && m.layer >= a && m.layer <= b);
  }
  if (part.startsWith('type:')) {
    const kinds = part.slice('type:'.length).split(',').map((k) => k.trim());
    for (const k of kinds) if (!(LINEAR_KINDS as readonly string[]).includes(k)) throw err('E_PATCH', msg.selectType(whole, k));
    return modules.filter((m) => kinds.includes(m.kind));
  }
  if (part.startsWith('re:')) {
    let re: RegExp;
    try {
      re = new RegExp(part.slice('re:'.length));
    } catch (e) {
      throw err('E_PATCH', msg.selectRegex(whole, e instanceof Error ? e.message : String(e)));
    }
    return modules.filter((m) => re.test(m.path));
  }
  const exact = modules.filter((m) => m.path === part);
  if (exact.length) return exact;
  const suffix = modules.filter((m) => m.path.endsWith('.' + part));
  if (suffix.length > 1) throw err('E_PATCH', msg.selectShortName(whole, suffix.length, suffix[0]!.path));
  if (suffix.length === 1) return suffix; // unambiguous tail (e.g. 'layers.3.self_attn.q_proj')
  throw err('E_PATCH', msg.selectUnknown(whole));
}

/**
 * What a selection chose: how many modules, how many per kind, and their full paths (module order).
 * @example
 * selectionSummary(linearPaths(cfg), 'blocks:10-19&type:gate,up,down') // { count: 30, byKind: { gate: 10, up: 10, down: 10 }, paths: [...] }
 */
export function selectionSummary(modules: readonly ModuleRef[], select: string): { select: string; count: number; byKind: Record<string, number>; paths: string[] } {
  const chosen = resolveSelection(modules, select);
  const byKind: Record<string, number> = {};
  for (const m of chosen) byKind[m.kind] = (byKind[m.kind] ?? 0) + 1;
  return { select, count: chosen.length, byKind, paths: chosen.map((m) => m.path) };
}
