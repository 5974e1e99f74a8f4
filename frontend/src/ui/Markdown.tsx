/** Renders user-written Markdown; see markdown.ts for the sanitising. */
import { useMemo } from "react";

import { renderMarkdown } from "./renderMarkdown";

export function Markdown({ source, className }: { source: string; className?: string }) {
  const html = useMemo(() => renderMarkdown(source), [source]);
  return (
    <div
      className={`markdown ${className ?? ""}`}
      // Sanitised above: this is the single place user HTML is injected.
      dangerouslySetInnerHTML={{ __html: html }}
    />
  );
}
