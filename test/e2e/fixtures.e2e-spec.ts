import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlledEvaluateInputItem, getLlama, readGgufFileInfo } from 'node-llama-cpp';
import {
  generateModel,
  generateModelOfShape,
  qwen2Tensors,
  readQwen2Vocab,
  SHAPES,
} from '../fixtures/generate-models.js';
import { GgmlType, tensorByteSize } from '../fixtures/gguf.js';

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
    expect(SHAPES['qwen2.5-0.5b']).toEqual({
      quantization: 'Q4_K_M',
      layers: 24,
      embedding: 896,
      feedForward: 4864,
      heads: 14,
      kvHeads: 2,
    });
  });

  it("lays the 0.5B shape out tensor for tensor like Qwen's published qwen2.5-0.5b-instruct-q4_k_m.gguf", () => {
    const tensors = qwen2Tensors(SHAPES['qwen2.5-0.5b'], 151936, 1);
    const counts: Record<string, number> = {};
    for (const t of tensors) counts[GgmlType[t.type]] = (counts[GgmlType[t.type]] ?? 0) + 1;
    // llama.cpp's loader on the published file: "type f32: 121, q5_0: 133, q8_0: 13, q4_K: 12, q6_K: 12
    // tensors", "model params = 630.17 M", "file size = 462.96 MiB (6.16 BPW)".
    expect(counts).toEqual({ F32: 121, Q5_0: 133, Q8_0: 13, Q4_K: 12, Q6_K: 12 });
    const params = tensors.reduce((sum, t) => sum + t.dims.reduce((a, b) => a * b, 1), 0);
    expect((params / 1e6).toFixed(2)).toBe('630.17');
    expect((tensors.reduce((sum, t) => sum + tensorByteSize(t), 0) / 2 ** 20).toFixed(2)).toBe('462.96');
    const type = (name: string) => GgmlType[tensors.find((t) => t.name === name)!.type];
    expect([type('token_embd.weight'), type('output.weight'), type('blk.0.attn_q.weight')]).toEqual([
      'Q5_0',
      'Q8_0',
      'Q5_0',
    ]);
    // attn_v and ffn_down "use more bits" in layers 0-2, 21-23 and every third between.
    expect([4, 5, 20, 21].map((i) => type(`blk.${i}.attn_v.weight`))).toEqual(['Q5_0', 'Q8_0', 'Q8_0', 'Q8_0']);
    expect([3, 5, 6, 23].map((i) => type(`blk.${i}.ffn_down.weight`))).toEqual(['Q4_K', 'Q6_K', 'Q4_K', 'Q6_K']);
  });

  it('writes blocks llama.cpp accepts and decodes to finite scores, in every quantized format', async () => {
    // 256-wide rows take the K-quants, the 288-wide ffn_down falls back to Q5_0 and Q8_0.
    const path = join(dir, 'formats.gguf');
    generateModelOfShape(
      { quantization: 'Q4_K_M', layers: 2, embedding: 256, feedForward: 288, heads: 4, kvHeads: 2 },
      'formats',
      path,
      3,
      vocab,
    );
    const info = await readGgufFileInfo(path, { readTensorInfo: true });
    expect(new Set(info.tensorInfo!.map((t) => GgmlType[t.ggmlType]))).toEqual(
      new Set(['F32', 'Q4_K', 'Q6_K', 'Q5_0', 'Q8_0']),
    );
    const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' as never });
    // checkTensors validates every block's scales: one read from the wrong bytes (random quants)
    // is a NaN or infinity about once in 32 blocks.
    const model = await llama.loadModel({ modelPath: path, checkTensors: true });
    try {
      const context = await model.createContext({ contextSize: 256, threads: 2 });
      const sequence = context.getSequence();
      const prompt = model.tokenize('Hello, how are you today?');
      const items = prompt.map((token, i): ControlledEvaluateInputItem =>
        i < prompt.length - 1 ? token : [token, { generateNext: { probabilities: true } }],
      );
      const next = (await sequence.controlledEvaluate(items))[prompt.length - 1]!.next;
      const probabilities = [...next.probabilities!.values()];
      expect(probabilities).toHaveLength(151936);
      expect(probabilities.every(Number.isFinite)).toBe(true);
      expect(probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);
      // A scale read from where the writer left zeros decodes the output layer to zeros: every token 1/151936.
      const uniform = 1 / probabilities.length;
      expect(probabilities.reduce((a, b) => Math.max(a, b))).toBeGreaterThan(10 * uniform);
      expect(probabilities.reduce((a, b) => Math.min(a, b))).toBeLessThan(0.1 * uniform);
    } finally {
      await model.dispose();
    }
  });
});
