/**
 * Why a request's AbortSignal fired: its client left, or its deadline passed. The HTTP layer sets
 * it; the model layer reads it to say which of the two stopped the work.
 */
export type AbortReason = { kind: 'client_gone' } | { kind: 'timeout'; afterMs: number };
