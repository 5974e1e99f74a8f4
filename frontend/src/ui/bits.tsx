/** Small presentational pieces shared by the screens. */
import { useEffect, useRef, useState, type ReactNode } from "react";

import type { Role } from "../api/client";
import { absolute, formatRelative, initials } from "./format";

export function Time({ iso }: { iso: string }) {
  return (
    <time dateTime={iso} title={absolute.format(new Date(iso))}>
      {formatRelative(iso)}
    </time>
  );
}

export function Avatar({
  name,
  seed = name,
  size = "md",
}: {
  name: string;
  /** What the colour is derived from; pass something stable like the email. */
  seed?: string;
  size?: "sm" | "md";
}) {
  // A stable hue per name so people are recognisable at a glance; dark enough (30 % lightness)
  // that white initials keep 4.5:1 whatever the hue (WCAG AA; 42 % gave 2.6:1 on yellow).
  let hash = 0;
  for (const char of seed) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return (
    <span
      className={`avatar avatar-${size}`}
      style={{ backgroundColor: `hsl(${hash % 360} 55% 30%)` }}
      aria-hidden="true"
    >
      {initials(name) || "?"}
    </span>
  );
}

const ROLE_STYLE: Record<Role, string> = {
  admin: "text-bg-dark",
  developer: "text-bg-primary",
  tester: "text-bg-info",
};

export function RoleBadge({ role }: { role: Role }) {
  return <span className={`badge rounded-pill ${ROLE_STYLE[role]}`}>{role}</span>;
}

export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => () => window.clearTimeout(timer.current), []);

  async function copy() {
    try {
      await navigator.clipboard.writeText(text);
      setState("copied");
    } catch {
      setState("failed");
    }
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => {
      setState("idle");
    }, 2500);
  }

  return (
    <>
      <button type="button" className="btn btn-outline-secondary" onClick={() => void copy()}>
        {state === "copied" ? "Copied" : label}
      </button>
      <span className="visually-hidden" role="status" aria-live="polite">
        {state === "copied" ? "Copied to the clipboard" : ""}
        {state === "failed" ? "Copy failed: select the text and copy it yourself" : ""}
      </span>
    </>
  );
}

export function PageHeader({
  title,
  subtitle,
  actions,
}: {
  title: ReactNode;
  subtitle?: ReactNode;
  actions?: ReactNode;
}) {
  return (
    <div className="page-header">
      <div className="min-w-0">
        <h1 className="h3 mb-0">{title}</h1>
        {subtitle && <p className="text-body-secondary mb-0 mt-1">{subtitle}</p>}
      </div>
      {actions && <div className="page-actions">{actions}</div>}
    </div>
  );
}
