import type { LlamaModel, Token } from 'node-llama-cpp';

/**
 * Whether a generated token ends the reply: an end-of-generation token (<|im_end|>,
 * <|endoftext|>) or any other control token. Control tokens are template markup, never reply
 * text; a generated <|im_start|> would open a turn the model goes on to invent.
 */
export function endsGeneration(model: LlamaModel, token: Token): boolean {
  return model.isEogToken(token) || model.getTokenAttributes(token).control;
}
