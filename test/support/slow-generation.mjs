// Preloaded into a server process (node --import) by tests that need a generation to outlast
// something: each generated token then comes SLOW_GENERATION_MS later. The variable is taken out
// of the environment, so processes forked with the same preload (node-llama-cpp forks one to test
// its native binary) load nothing.
const delayMs = Number(process.env.SLOW_GENERATION_MS ?? 0);
delete process.env.SLOW_GENERATION_MS;

if (delayMs > 0) {
  const { LlamaContextSequence } = await import('node-llama-cpp');
  const evaluate = LlamaContextSequence.prototype.evaluate;
  LlamaContextSequence.prototype.evaluate = async function* (...args) {
    for await (const token of evaluate.apply(this, args)) {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      yield token;
    }
  };
}
