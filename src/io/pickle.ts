// A restricted pickle reader (PyTorch's weights_only=True rules: only allowed globals, nothing executed) and writer.
import { FormatError } from '../errors.js';

/** A Python global the pickle named (module and attribute), not resolved to anything. */
export class PickleGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

/** A call the reader recorded instead of executing: `func(*args)`, func an allowed global. */
export interface PickleCall {
  kind: 'call';
  func: PickleGlobal;
  args: PickleValue[];
  /** What BUILD gave it (a state dict's `_metadata`, say), kept as data. */
  state?: PickleValue;
  /** Items SETITEM(S) added (OrderedDict), in order. */
  items: [PickleValue, PickleValue][];
}

/** A persistent id (`torch.save` stores each storage as one). */
export interface PickleRef {
  kind: 'persistent';
  id: PickleValue;
}

export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleValue[]
  | { kind: 'tuple'; items: PickleValue[] }
  | { kind: 'dict'; items: [PickleValue, PickleValue][] }
  | PickleCall
  | PickleRef
  | PickleGlobal;

const MARK = Symbol('mark');
type Slot = PickleValue | typeof MARK;

/**
 * Parses pickle bytes (protocols 2-5) into plain values. Only globals in `allowed` (qualified `module.name`) may
 * appear; any other is a FormatError naming it and `source`. REDUCE and NEWOBJ do not call anything: they record
 * `{ kind: 'call' }` for the caller to interpret. Opcodes that need arbitrary Python (INST, OBJ, EXT*) are
 * refused. Never executes code.
 */
export function readPickle(bytes: Uint8Array, allowed: ReadonlySet<string>, source: string): PickleValue {
  const fail = (what: string): never => {
    throw new FormatError(`${source}: refused pickle: ${what}`);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder('utf-8', { fatal: true });
  const stack: Slot[] = [];
  const memo = new Map<number, PickleValue>();
  let pos = 0;
  const need = (n: number) => {
    if (pos + n > bytes.length) fail(`truncated at byte ${pos} (needs ${n} more)`);
  };
  const u8 = () => (need(1), bytes[pos++]);
  const u16 = () => (need(2), (pos += 2), view.getUint16(pos - 2, true));
  const i32 = () => (need(4), (pos += 4), view.getInt32(pos - 4, true));
  const u32 = () => (need(4), (pos += 4), view.getUint32(pos - 4, true));
  const u64 = () => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(bytes.length)) fail(`length ${v} past the end`);
    return Number(v);
  };
  const raw = (n: number) => (need(n), (pos += n), bytes.subarray(pos - n, pos));
  const str = (n: number) => {
    try {
      return text.decode(raw(n));
    } catch {
      return fail(`invalid UTF-8 at byte ${pos - n}`);
    }
  };
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('unterminated text line');
    const s = new TextDecoder('latin1').decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = (): PickleValue => {
    const v = stack.pop();
    if (v === undefined || v === MARK) return fail(`stack underflow at byte ${pos}`);
    return v;
  };
  const top = (): PickleValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) return fail(`stack underflow at byte ${pos}`);
    return v;
  };
  const popMark = (): PickleValue[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) fail(`no MARK at byte ${pos}`);
    const items = stack.splice(i) as PickleValue[];
    items.shift();
    return items;
  };
  const global = (module: string, name: string) => {
    const g = new PickleGlobal(module, name);
    if (!allowed.has(g.qualified)) {
      fail(`global '${g.qualified}' is not allowed (a weights file needs only ${[...allowed].join(', ')})`);
    }
    return g;
  };
  const call = (func: PickleValue, args: PickleValue): PickleCall => {
    if (!(func instanceof PickleGlobal)) return fail('REDUCE of something that is not an allowed global');
    const list =
      typeof args === 'object' && args !== null && 'kind' in args && args.kind === 'tuple'
        ? args.items
        : null;
    if (!list) return fail(`REDUCE of ${func.qualified} without an argument tuple`);
    return { kind: 'call', func, args: list, items: [] };
  };
  const setItems = (target: PickleValue, pairs: PickleValue[]) => {
    if (pairs.length % 2) fail('SETITEMS with an odd number of values');
    const items =
      typeof target === 'object' &&
      target !== null &&
      'kind' in target &&
      (target.kind === 'dict' || target.kind === 'call')
        ? target.items
        : fail('SETITEM on something that is not a dict');
    for (let i = 0; i < pairs.length; i += 2) items.push([pairs[i], pairs[i + 1]]);
  };
  const append = (target: PickleValue, values: PickleValue[]) => {
    if (!Array.isArray(target)) fail('APPEND on something that is not a list');
    (target as PickleValue[]).push(...values);
  };
  const tuple = (items: PickleValue[]): PickleValue => ({ kind: 'tuple', items });

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail('pickle protocol above 5');
        break;
      case 0x95: // FRAME: a length prefix only
        pos += 8;
        break;
      case 0x2e: // STOP
        if (stack.length !== 1) fail(`${stack.length} values left on the stack at STOP`);
        return pop();
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: {
        // LONG1: little-endian two's complement
        const b = raw(u8());
        let v = 0n;
        for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
        if (b.length && b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
        stack.push(
          v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v,
        );
        break;
      }
      case 0x47: // BINFLOAT: big-endian double
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x58: // BINUNICODE
        stack.push(str(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(str(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(str(u64()));
        break;
      case 0x55: // SHORT_BINSTRING (Python 2 str, as latin-1)
        stack.push(new TextDecoder('latin1').decode(raw(u8())));
        break;
      case 0x54: // BINSTRING
        stack.push(new TextDecoder('latin1').decode(raw(u32())));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(raw(u8()).slice());
        break;
      case 0x42: // BINBYTES
        stack.push(raw(u32()).slice());
        break;
      case 0x7d: // EMPTY_DICT
        stack.push({ kind: 'dict', items: [] });
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(tuple([]));
        break;
      case 0x74: // TUPLE
        stack.push(tuple(popMark()));
        break;
      case 0x85: // TUPLE1
        stack.push(tuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push(tuple([pop(), b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push(tuple([pop(), b, c]));
        break;
      }
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x64: {
        // DICT
        const d: PickleValue = { kind: 'dict', items: [] };
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        append(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const vs = popMark();
        append(top(), vs);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const vs = popMark();
        setItems(top(), vs);
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: {
        // BINGET
        const k = u8();
        if (!memo.has(k)) fail(`memo ${k} is not set`);
        stack.push(memo.get(k)!);
        break;
      }
      case 0x6a: {
        // LONG_BINGET
        const k = u32();
        if (!memo.has(k)) fail(`memo ${k} is not set`);
        stack.push(memo.get(k)!);
        break;
      }
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        stack.push(global(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL without two strings');
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE: recorded, not called
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args), recorded the same way
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x62: {
        // BUILD: state for an object the reader made; kept as data
        const state = pop();
        const obj = top();
        if (typeof obj !== 'object' || obj === null || !('kind' in obj) || obj.kind !== 'call') {
          fail('BUILD on something that is not an allowed object');
        }
        (obj as PickleCall).state = state;
        break;
      }
      case 0x51: // BINPERSID
        stack.push({ kind: 'persistent', id: pop() });
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      default:
        fail(`opcode 0x${op.toString(16).padStart(2, '0')} at byte ${pos - 1} is not allowed`);
    }
  }
}

/** Builds pickle protocol-2 bytes for the few value kinds a state dict needs. */
export class PickleWriter {
  private readonly chunks: Uint8Array[] = [];
  private readonly enc = new TextEncoder();

  constructor() {
    this.bytes(0x80, 2);
  }

  private bytes(...b: number[]): this {
    this.chunks.push(Uint8Array.from(b));
    return this;
  }

  private u32(v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, true);
    this.chunks.push(b);
    return this;
  }

  mark(): this {
    return this.bytes(0x28);
  }
  tuple(): this {
    return this.bytes(0x74);
  }
  emptyTuple(): this {
    return this.bytes(0x29);
  }
  reduce(): this {
    return this.bytes(0x52);
  }
  setItems(): this {
    return this.bytes(0x75);
  }
  persistentId(): this {
    return this.bytes(0x51);
  }
  bool(v: boolean): this {
    return this.bytes(v ? 0x88 : 0x89);
  }
  stop(): this {
    return this.bytes(0x2e);
  }

  /** A non-negative integer below 2^31 (sizes, strides, offsets, counts). */
  int(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) throw new RangeError(`pickle int ${v}`);
    if (v < 256) return this.bytes(0x4b, v);
    if (v < 65536) return this.bytes(0x4d, v & 0xff, v >> 8);
    return this.bytes(0x4a).u32(v);
  }

  str(s: string): this {
    const b = this.enc.encode(s);
    this.bytes(0x58).u32(b.length);
    this.chunks.push(b);
    return this;
  }

  /** GLOBAL `module\nname\n`. */
  global(module: string, name: string): this {
    this.chunks.push(Uint8Array.of(0x63), this.enc.encode(`${module}\n${name}\n`));
    return this;
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}
