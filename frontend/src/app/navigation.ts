/**
 * The top navigation as data. A new area of the app (bugs, expenses, the code runner) gets one
 * entry here and one route in routes.tsx; nothing else in the shell changes.
 */
import type { Role } from "../api/client";

export interface NavItem {
  to: string;
  label: string;
  /** Only these roles see the entry (the API enforces the rule; this just hides dead ends). */
  roles?: readonly Role[];
  /** Match the path exactly rather than as a prefix. */
  end?: boolean;
}

export const primaryNav: readonly NavItem[] = [
  { to: "/", label: "Dashboard", end: true },
  { to: "/bugs", label: "Bugs" },
  { to: "/projects", label: "Projects" },
  { to: "/expenses", label: "Expenses" },
  { to: "/run", label: "Code runner" },
  { to: "/admin/users", label: "Users", roles: ["admin"] },
];

export function visibleNav(role: Role): NavItem[] {
  return primaryNav.filter((item) => !item.roles || item.roles.includes(role));
}
