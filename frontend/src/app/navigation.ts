/**
 * The top navigation as data. A new area of the app (bugs, expenses, the code runner) gets one
 * entry here and one route in routes.tsx; nothing else in the shell changes.
 */
import type { Me } from "../api/client";
import { hasPermission } from "./currentUser";

export interface NavItem {
  to: string;
  label: string;
  /** Only users holding this permission see the entry (the API enforces the rule; this just
   * hides dead ends). */
  permission?: string;
  /** Match the path exactly rather than as a prefix. */
  end?: boolean;
}

export const primaryNav: readonly NavItem[] = [
  { to: "/", label: "Dashboard", end: true },
  { to: "/bugs", label: "Bugs" },
  { to: "/projects", label: "Projects" },
  { to: "/expenses", label: "Expenses" },
  { to: "/run", label: "Code runner" },
  { to: "/admin/users", label: "Users", permission: "users:read" },
];

export function visibleNav(user: Me): NavItem[] {
  return primaryNav.filter((item) => !item.permission || hasPermission(user, item.permission));
}
