// The OpenAI route's own refusals, as plain errors; src/app/error-statuses.ts decides their statuses
// and the route's envelope renders them.

/** A field OpenAI defines whose asked-for behaviour Duet does not have: refused rather than ignored. */
export class UnsupportedFieldError extends Error {
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${field}: ${problem}`);
  }
}

/** The conversation does not end with a user turn, so there is nothing to answer. */
export class NoUserTurnError extends Error {
  constructor() {
    super('the last non-system message must be from the user');
  }
}
