import type { AbortReason } from '../../../runtime/abort-reason.js';
import { onAbort } from './on-abort.js';

const isTimeout = (reason: unknown) => (reason as AbortReason | undefined)?.kind === 'timeout';

/**
 * A request's signal as one run of its work sees it: it fires with the request's, except that a
 * deadline passing once the work has started stops it only `graceMs` later. Work starts only when
 * the estimates say it ends in time (see Scheduler), so one that runs past its deadline ran longer
 * than expected: it is given that long again to finish and answer late, rather than be thrown away
 * in a 504. (A client that stops waiting closes its connection, which stops work at once; during
 * the grace the request's signal has already fired, so only the grace's end stops it.)
 */
export class WorkSignal {
  private readonly controller = new AbortController();
  /** 0 until the work starts (or with nothing measured): the deadline then stops it at once. */
  private graceMs = 0;
  private graceTimer: NodeJS.Timeout | undefined;
  private readonly stopFollowing: () => void;

  constructor(private readonly request?: AbortSignal) {
    if (request?.aborted) this.follow();
    this.stopFollowing = onAbort(request, () => this.follow());
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The work starts now, expected to take `graceMs`: its deadline, if it passes from now on, stops it that much later. */
  started(graceMs: number): void {
    this.graceMs = graceMs;
  }

  /** The run is over: stops following the request's signal. */
  dispose(): void {
    this.stopFollowing();
    clearTimeout(this.graceTimer);
  }

  private follow(): void {
    const reason = this.request!.reason;
    const abort = () => this.controller.abort(reason);
    if (this.graceMs && isTimeout(reason)) this.graceTimer = setTimeout(abort, this.graceMs);
    else abort();
  }
}
