import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGgufFileInfo } from 'node-llama-cpp';
import { generateModel, readQwen2Vocab, SHAPES } from './fixtures/generate-models.js';
import { GgmlType } from './fixtures/gguf.js';

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('GGUF fixture generator', () => {
  const dir = mkdtempSync(join(tmpdir(), 'duet-fixtures-'));
  const vocab = readQwen2Vocab();

  it('writes the same bytes for the same seed, and other bytes for another seed', () => {
    const [a, b, c] = ['a.gguf', 'b.gguf', 'c.gguf'].map((name) => join(dir, name));
    generateModel('tiny', a, 7, vocab);
    generateModel('tiny', b, 7, vocab);
    generateModel('tiny', c, 8, vocab);
    expect(sha256(a)).toBe(sha256(b));
    expect(sha256(a)).not.toBe(sha256(c));
  });

  it('writes a Qwen2 model with the real Qwen2 tokenizer and the Qwen2.5-Instruct end-of-turn token', async () => {
    const path = join(dir, 'meta.gguf');
    generateModel('tiny', path, 1, vocab);
    const info = await readGgufFileInfo(path, { readTensorInfo: true });
    const md = info.metadata as any;
    expect(md.general.architecture).toBe('qwen2');
    expect(md.qwen2).toMatchObject({ block_count: 2, embedding_length: 64, feed_forward_length: 128 });
    expect(md.tokenizer.ggml.tokens).toHaveLength(151936);
    expect(md.tokenizer.ggml.eos_token_id).toBe(151645);
    expect(md.tokenizer.chat_template).toContain('<|im_start|>');
    expect(info.tensorInfo).toHaveLength(2 + 12 * 2);
    const tensor = (name: string) => info.tensorInfo!.find((t) => t.name === name)!;
    expect(tensor('token_embd.weight').dimensions).toEqual([64, 151936]);
    expect(tensor('blk.1.attn_k.weight').dimensions).toEqual([64, 32]); // 2 KV heads of 16
    expect(tensor('blk.1.ffn_down.weight').dimensions).toEqual([128, 64]);
    expect(tensor('blk.1.ffn_down.weight').ggmlType).toBe(GgmlType.Q4_0);
    expect(tensor('output_norm.weight').ggmlType).toBe(GgmlType.F32);
  });

  it('knows the exact Qwen2.5-0.5B shapes', () => {
    expect(SHAPES['qwen2.5-0.5b']).toEqual({ weights: GgmlType.Q4_0, layers: 24, embedding: 896, feedForward: 4864, heads: 14, kvHeads: 2 });
  });
});
