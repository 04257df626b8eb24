import { LlamaGrammar, LlamaJsonSchemaGrammar, type LlamaModel } from 'node-llama-cpp';
import { grammarSchema, type JsonSchema } from '../../../prompts/json-schema-support.js';

/** Grammars of recent schemas kept built: clients send the same few schemas again and again. */
const CACHED_SCHEMAS = 32;

/** Builds, and keeps a few of, the grammars that hold generation to JSON or to a JSON schema. */
export class JsonGrammars {
  private json?: Promise<LlamaGrammar>;
  private readonly bySchema = new Map<string, LlamaJsonSchemaGrammar<never>>();

  constructor(private readonly model: LlamaModel) {}

  /** Any JSON object without a schema; with one, answers valid against it (UnsupportedSchemaError if it cannot be held to). */
  async grammarFor(schema?: JsonSchema): Promise<LlamaGrammar> {
    if (schema === undefined) return (this.json ??= LlamaGrammar.getFor(this.model.llama, 'json'));
    const key = JSON.stringify(schema);
    let grammar = this.bySchema.get(key);
    if (grammar) this.bySchema.delete(key);
    else grammar = new LlamaJsonSchemaGrammar(this.model.llama, grammarSchema(schema) as never);
    this.bySchema.set(key, grammar);
    if (this.bySchema.size > CACHED_SCHEMAS) this.bySchema.delete(this.bySchema.keys().next().value!);
    return grammar;
  }
}

/** Whether text generated under `grammar` is a whole answer: JSON that, with a schema, validates against it. */
export function isCompleteJson(grammar: LlamaGrammar, text: string): boolean {
  try {
    if (grammar instanceof LlamaJsonSchemaGrammar) grammar.parse(text);
    else JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
