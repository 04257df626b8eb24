/**
 * Index just past the JSON value `text` begins with (after any white space), once that value is
 * complete; undefined while it is not. Generation held to a JSON grammar stops there:
 * node-llama-cpp's schema grammars end with `"\n\n\n\n" [\n]*` and leave the stop to stop triggers
 * that only its own LlamaChat and LlamaCompletion apply, so a greedy loop would otherwise spend
 * tokens on newlines until the model picks an end token or the cap cuts it.
 *
 * The text is assumed to be a prefix of valid JSON, as a grammar makes it. A number or literal
 * root is complete once anything follows it: it could still grow until then.
 */
export function jsonRootEnd(text: string): number | undefined {
  const start = text.search(/\S/);
  if (start === -1) return undefined;
  if (!'{["'.includes(text[start])) {
    const after = text.slice(start).search(/\s/);
    return after === -1 ? undefined : start + after;
  }
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    else continue;
    if (depth === 0 && !inString) return i + 1;
  }
  return undefined;
}
