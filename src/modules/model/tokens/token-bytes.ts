import type { LlamaModel, Token } from 'node-llama-cpp';

/** GgufMetadataTokenizerTokenType (a const enum, which isolated modules cannot read). */
const NORMAL_TOKEN = 1;
const USER_DEFINED_TOKEN = 4;

/**
 * GPT-2's byte-level BPE stores each byte of a token as one printable character: bytes that are
 * printable stand for themselves, the others are shifted to code points from 256 on. The inverse
 * of that table, from code point to byte.
 */
function byteLevelDecoding(): Map<number, number> {
  const printable = [...range(33, 126), ...range(161, 172), ...range(174, 255)];
  const decoding = new Map(printable.map((byte) => [byte, byte]));
  let shifted = 256;
  for (let byte = 0; byte < 256; byte++) if (!decoding.has(byte)) decoding.set(shifted++, byte);
  return decoding;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/**
 * The exact bytes every token stands for, in one buffer. A token may stand for part of a
 * character (byte-level BPE splits CJK characters and emoji between tokens), which a string
 * cannot hold: node-llama-cpp's detokenize turns such a token into U+FFFD. Label scoring compares
 * bytes, as llama.cpp's grammar does. Built from the GGUF vocabulary strings before they are
 * dropped (1-2 MiB for Qwen2's 151,936 tokens, against 12.7 MiB as strings). Control tokens stand
 * for no text.
 */
export class TokenBytes {
  private constructor(
    private readonly bytes: Uint8Array,
    private readonly offsets: Uint32Array,
  ) {}

  /** From a byte-level BPE vocabulary (GGUF tokenizer model "gpt2", as Qwen2's); undefined for any other. */
  static fromVocabulary(model: LlamaModel): TokenBytes | undefined {
    const { model: kind, tokens = [], token_type: types = [] } = model.fileInfo.metadata.tokenizer?.ggml ?? {};
    if (kind !== 'gpt2' || tokens.length === 0) return undefined;
    const decoding = byteLevelDecoding();
    const pieces = tokens.map((text, token) => {
      if (types[token] === NORMAL_TOKEN)
        return Uint8Array.from(text, (char) => decoding.get(char.codePointAt(0)!) ?? 0);
      if (types[token] === USER_DEFINED_TOKEN) return Buffer.from(text, 'utf8');
      return new Uint8Array(0);
    });
    const offsets = new Uint32Array(pieces.length + 1);
    pieces.forEach((piece, token) => (offsets[token + 1] = offsets[token] + piece.length));
    const bytes = new Uint8Array(offsets[pieces.length]);
    pieces.forEach((piece, token) => bytes.set(piece, offsets[token]));
    return new TokenBytes(bytes, offsets);
  }

  get size(): number {
    return this.offsets.length - 1;
  }

  of(token: Token): Uint8Array {
    return this.bytes.subarray(this.offsets[token], this.offsets[token + 1]);
  }

  /** The most bytes one token stands for (128 for Qwen2: a run of spaces). */
  get longest(): number {
    let longest = 0;
    for (let token = 0; token < this.size; token++)
      longest = Math.max(longest, this.offsets[token + 1] - this.offsets[token]);
    return longest;
  }
}
