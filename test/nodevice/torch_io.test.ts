// No-device tests of the .pth reader and writer and loadTorchWeights' checks: refused globals, corrupt zips,
// truncated storages, strict and non-strict key checks, layouts.
import { unzipSync, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { FormatError, io, nn } from '../../src/index.js';
import { PickleWriter } from '../../src/io/pickle.js';

const entries = {
  'conv.weight': {
    dtype: 'F32' as const,
    shape: [2, 3, 1, 2],
    data: Float32Array.from({ length: 12 }, (_, i) => i),
  },
  'bn.num_batches_tracked': { dtype: 'I64' as const, shape: [], data: Int32Array.from([5]) },
};

/** A zip holding one data.pkl with the given pickle bytes (and storages). */
function archive(pickle: Uint8Array, storages: Record<string, Uint8Array> = {}): Uint8Array {
  const files: Record<string, Uint8Array> = { 'archive/data.pkl': pickle };
  for (const [k, v] of Object.entries(storages)) files[`archive/data/${k}`] = v;
  return zipSync(files, { level: 0 });
}

describe('.pth reader and writer', () => {
  it('round-trips a state dict through encodePth / decodePth', () => {
    const back = io.decodePth(io.encodePth(entries), 'x.pth');
    expect(Object.keys(back)).toEqual(Object.keys(entries));
    expect(back['conv.weight'].shape).toEqual([2, 3, 1, 2]);
    expect(Array.from(back['conv.weight'].data)).toEqual(Array.from(entries['conv.weight'].data));
    expect(back['bn.num_batches_tracked'].dtype).toBe('I64');
    expect(Array.from(back['bn.num_batches_tracked'].data)).toEqual([5]);
    expect(Object.keys(unzipSync(io.encodePth(entries))).sort()).toEqual([
      'archive/data.pkl',
      'archive/data/0',
      'archive/data/1',
      'archive/version',
    ]);
  });

  it('refuses any other global, naming it, without running anything', () => {
    const p = new PickleWriter().global('os', 'system').mark().str('echo hi').tuple().reduce().stop();
    const bytes = archive(p.finish());
    expect(() => io.decodePth(bytes, 'evil.pth')).toThrow(FormatError);
    expect(() => io.decodePth(bytes, 'evil.pth')).toThrow(
      /evil.pth: refused pickle: global 'os.system' is not allowed/,
    );
    const builtins = new PickleWriter().global('builtins', 'eval').stop();
    expect(() => io.decodePth(archive(builtins.finish()), 'e.pth')).toThrow(/'builtins.eval' is not allowed/);
  });

  it('refuses opcodes outside a state dict and a pickle that is not a dict', () => {
    // INST (0x69) builds arbitrary objects.
    const inst = archive(Uint8Array.from([0x80, 2, 0x69, ...new TextEncoder().encode('os\nsystem\n'), 0x2e]));
    expect(() => io.decodePth(inst, 'i.pth')).toThrow(/opcode 0x69 .* is not allowed/);
    const list = archive(Uint8Array.from([0x80, 2, 0x5d, 0x2e]));
    expect(() => io.decodePth(list, 'l.pth')).toThrow(/not a state dict/);
  });

  it('gives FormatErrors for a corrupt zip and a truncated storage', () => {
    const good = io.encodePth(entries);
    const cut = good.slice(0, good.length - 40);
    expect(() => io.decodePth(cut, 'cut.pth')).toThrow(FormatError);
    expect(() => io.decodePth(Uint8Array.from([1, 2, 3, 4, 5]), 'junk.pth')).toThrow(
      /junk.pth: not a PyTorch zip/,
    );
    const files = unzipSync(good);
    files['archive/data/0'] = files['archive/data/0'].slice(0, 20);
    expect(() => io.decodePth(zipSync(files, { level: 0 }), 'short.pth')).toThrow(
      /short.pth: tensor 'conv.weight': storage 'archive\/data\/0' is truncated: 20 bytes, 12 F32 elements need 48/,
    );
    delete files['archive/data/0'];
    expect(() => io.decodePth(zipSync(files, { level: 0 }), 'gone.pth')).toThrow(
      /storage 'archive\/data\/0' is missing/,
    );
  });
});

describe('loadTorchWeights checks', () => {
  const model = () => new nn.Sequential(new nn.Conv2d(3, 2, 1, { bias: false }), new nn.Dense(4, 5));
  const file = (extra: Record<string, io.TorchEntry> = {}, drop: string[] = []) => {
    const all: Record<string, io.TorchEntry> = {
      '0.weight': { dtype: 'F32', shape: [2, 3, 1, 1], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
      '1.weight': { dtype: 'F32', shape: [5, 4], data: Float32Array.from({ length: 20 }, (_, i) => i) },
      '1.bias': { dtype: 'F32', shape: [5], data: new Float32Array(5) },
      ...extra,
    };
    for (const d of drop) delete all[d];
    return io.encodePth(all);
  };

  it('converts OIHW to HWIO and [out,in] to [in,out]', async () => {
    const m = model();
    await io.loadTorchWeights(m, file());
    const sd = m.stateDict();
    // Conv [O=2, I=3] → HWIO [1, 1, 3, 2]: element (i, o) = torch (o, i).
    expect(Array.from(new Float32Array(sd['0.weight'].storage.upload!))).toEqual([1, 4, 2, 5, 3, 6]);
    expect(sd['1.weight'].shape).toEqual([4, 5]);
    expect(new Float32Array(sd['1.weight'].storage.upload!)[1]).toBe(4);
  });

  it('is strict by default, listing the names; non-strict returns them', async () => {
    const m = model();
    const extra = { 'head.weight': { dtype: 'F32' as const, shape: [1], data: new Float32Array(1) } };
    await expect(io.loadTorchWeights(m, file(extra, ['1.bias']))).rejects.toThrow(
      /missing 1.bias; unexpected head.weight/,
    );
    expect(await io.loadTorchWeights(m, file(extra, ['1.bias']), { strict: false })).toEqual({
      missing: ['1.bias'],
      unexpected: ['head.weight'],
    });
    const bad = { '1.bias': { dtype: 'F32' as const, shape: [6], data: new Float32Array(6) } };
    await expect(io.loadTorchWeights(m, file(bad), { strict: false })).rejects.toThrow(
      /mis-shaped 1.bias \(file \[6\], model \[5\]/,
    );
  });

  it('leaves the model as it was when the file is refused', async () => {
    const m = model();
    const before = Array.from(new Float32Array(m.stateDict()['0.weight'].storage.upload!));
    await expect(io.loadTorchWeights(m, file({}, ['1.bias']))).rejects.toThrow(FormatError);
    expect(Array.from(new Float32Array(m.stateDict()['0.weight'].storage.upload!))).toEqual(before);
  });

  it('names the layout helpers as inverses', () => {
    const data = Float32Array.from({ length: 24 }, (_, i) => i);
    const hwio = io.fromTorchLayout([2, 3, 2, 2], data);
    const back = io.toTorchLayout(hwio.shape, hwio.data as Float32Array);
    expect(back.shape).toEqual([2, 3, 2, 2]);
    expect(Array.from(back.data)).toEqual(Array.from(data));
  });
});
