import { ApiError, isAbort, type AdminApi } from './api';
import { alertLine } from './dom';

/** What a view gets while it is the current one. */
export interface ViewContext {
  api: AdminApi;
  /** `<main>`, emptied for the view, which starts it with its `<h1>`. */
  main: HTMLElement;
  /** Aborted when the view is left: its requests stop and its answers are dropped. */
  signal: AbortSignal;
  /** Runs when the view is left. */
  onLeave(cleanup: () => void): void;
  /** Ends the session (the token was refused meanwhile). */
  signOut(message: string): void;
}

export type View = (context: ViewContext) => void;

export const TOKEN_REFUSED = 'Admin token refused: sign in again with a valid admin token.';

/**
 * Shows what went wrong in `place`; a refused token ends the session, a left view says nothing.
 * Returns false when the view should stop.
 */
export function reportError(context: ViewContext, place: HTMLElement, error: unknown): void {
  if (isAbort(error) || context.signal.aborted) return;
  if (error instanceof ApiError && error.status === 401) {
    context.signOut(TOKEN_REFUSED);
    return;
  }
  const message =
    error instanceof ApiError
      ? `${error.message} (HTTP ${error.status})`
      : error instanceof Error
        ? error.message
        : String(error);
  place.replaceChildren(alertLine(message));
}
