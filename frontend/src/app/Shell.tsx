/** The signed-in frame: skip link, top navigation (collapses at phone width), main landmark. */
import { useEffect, useRef, useState } from "react";
import { Link, NavLink, Outlet, useLocation } from "react-router";

import { useApi } from "../api/context";
import { useUnreadCount } from "../api/notifications";
import { Avatar } from "../ui/bits";
import { useCurrentUser } from "./currentUser";
import { visibleNav } from "./navigation";

export function Logo() {
  return (
    <svg className="logo" viewBox="0 0 32 32" width="28" height="28" aria-hidden="true">
      <rect width="32" height="32" rx="7" fill="currentColor" />
      <path d="M10 22a5 5 0 0 1-.6-9.96A7 7 0 0 1 23 13.1 4.5 4.5 0 0 1 22.5 22z" fill="#fff" />
    </svg>
  );
}

export function Shell() {
  const user = useCurrentUser();
  const api = useApi();
  const location = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  const main = useRef<HTMLElement>(null);
  const firstRender = useRef(true);

  // After client-side navigation, move focus to the new page like a full load would, so screen
  // reader and keyboard users start at the content rather than on the link they used.
  useEffect(() => {
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    main.current?.focus({ preventScroll: false });
  }, [location.pathname]);

  const items = visibleNav(user);

  return (
    <>
      <a className="visually-hidden-focusable skip-link" href="#main">
        Skip to content
      </a>
      <header>
        <nav className="navbar navbar-expand-md navbar-dark app-navbar" aria-label="Main">
          <div className="container-xl">
            <Link className="navbar-brand d-flex align-items-center gap-2" to="/">
              <Logo />
              <span>Nimbus</span>
            </Link>
            <button
              className="navbar-toggler"
              type="button"
              aria-controls="main-menu"
              aria-expanded={menuOpen}
              aria-label={menuOpen ? "Close menu" : "Open menu"}
              onClick={() => setMenuOpen((open) => !open)}
            >
              <span className="navbar-toggler-icon" />
            </button>
            <div className={`collapse navbar-collapse${menuOpen ? " show" : ""}`} id="main-menu">
              <ul className="navbar-nav me-auto">
                {items.map((item) => (
                  <li className="nav-item" key={item.to}>
                    <NavLink
                      className="nav-link"
                      to={item.to}
                      end={item.end ?? false}
                      onClick={() => setMenuOpen(false)}
                    >
                      {item.label}
                    </NavLink>
                  </li>
                ))}
              </ul>
              <ul className="navbar-nav align-items-md-center gap-md-2">
                <li className="nav-item">
                  <NotificationBell onNavigate={() => setMenuOpen(false)} />
                </li>
                <li className="nav-item">
                  <NavLink
                    className="nav-link d-flex align-items-center gap-2"
                    to="/profile"
                    onClick={() => setMenuOpen(false)}
                  >
                    <Avatar name={user.full_name} seed={user.email} size="sm" />
                    <span>{user.full_name}</span>
                    <span className="visually-hidden">(your profile)</span>
                  </NavLink>
                </li>
                <li className="nav-item">
                  <button
                    type="button"
                    className="btn btn-sm btn-outline-light my-2 my-md-0"
                    onClick={() => void api.signOut()}
                  >
                    Sign out
                  </button>
                </li>
              </ul>
            </div>
          </div>
        </nav>
      </header>
      <main id="main" ref={main} tabIndex={-1} className="container-xl app-main">
        <Outlet />
      </main>
    </>
  );
}

function NotificationBell({ onNavigate }: { onNavigate: () => void }) {
  const unread = useUnreadCount();
  const count = unread.data?.unread ?? 0;
  return (
    <NavLink
      className="nav-link notification-bell d-flex align-items-center gap-2"
      to="/notifications"
      onClick={onNavigate}
    >
      <svg width="20" height="20" viewBox="0 0 24 24" aria-hidden="true" fill="currentColor">
        <path d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1z" />
      </svg>
      <span className="d-md-none">Notifications</span>
      <span className="visually-hidden d-none d-md-inline">Notifications</span>
      {count > 0 && (
        <span className="badge rounded-pill text-bg-danger">
          {count > 99 ? "99+" : count}
          <span className="visually-hidden"> unread</span>
        </span>
      )}
    </NavLink>
  );
}
