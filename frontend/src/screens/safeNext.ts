/** Where to go after signing in. */

/** Only same-site paths are honoured as a post-login destination (no open redirects). */
export function safeNext(next: string | null): string {
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
}
