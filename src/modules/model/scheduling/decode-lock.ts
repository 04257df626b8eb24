type Grant = { exclusive: boolean; grant: (release: () => void) => void };

/**
 * Fair readers-writer lock over the shared context's decode batches. llama.cpp's float rounding
 * depends on which tokens share a batch, so a classification takes the lock exclusively (its
 * batches hold its tokens alone, the same split every time) while generation steps take it
 * shared and may batch together. Waiters are served in arrival order so neither side starves.
 */
export class DecodeLock {
  private readers = 0;
  private writer = false;
  private readonly waiting: Grant[] = [];

  shared(): Promise<() => void> {
    return this.enqueue(false);
  }

  exclusive(): Promise<() => void> {
    return this.enqueue(true);
  }

  private enqueue(exclusive: boolean): Promise<() => void> {
    return new Promise((grant) => {
      this.waiting.push({ exclusive, grant });
      this.pump();
    });
  }

  private pump(): void {
    while (this.waiting.length > 0 && !this.writer) {
      const next = this.waiting[0];
      if (next.exclusive && this.readers > 0) return;
      this.waiting.shift();
      if (next.exclusive) this.writer = true;
      else this.readers++;
      let released = false;
      next.grant(() => {
        if (released) return;
        released = true;
        if (next.exclusive) this.writer = false;
        else this.readers--;
        this.pump();
      });
    }
  }
}
