/** Where the first of `stops` begins in `text`, if any does. */
export function stopIndex(text: string, stops: readonly string[] = []): number | undefined {
  let first: number | undefined;
  for (const stop of stops) {
    const at = text.indexOf(stop);
    if (at >= 0 && (first === undefined || at < first)) first = at;
  }
  return first;
}

/**
 * `text` without its longest ending that could still grow into one of `stops`: what can be
 * streamed now without ever streaming the start of a stop string.
 */
export function withoutStopStart(text: string, stops: readonly string[] = []): string {
  let held = 0;
  for (const stop of stops) {
    for (let length = Math.min(stop.length - 1, text.length); length > held; length--) {
      if (text.endsWith(stop.slice(0, length))) {
        held = length;
        break;
      }
    }
  }
  return text.slice(0, text.length - held);
}
