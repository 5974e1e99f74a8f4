/** The centred card that frames the signed-out screens. */
import type { ReactNode } from "react";

import { Logo } from "../app/Shell";

export function AuthLayout({
  title,
  children,
  footer,
}: {
  title: string;
  children: ReactNode;
  footer: ReactNode;
}) {
  return (
    <main id="main" className="auth-page">
      <div className="auth-card card shadow-sm">
        <div className="card-body p-4 p-sm-5">
          <div className="d-flex align-items-center gap-2 mb-4 text-primary">
            <Logo />
            <span className="fs-4 fw-semibold text-body">Nimbus</span>
          </div>
          <h1 className="h4 mb-4">{title}</h1>
          {children}
        </div>
        <div className="card-footer text-center py-3 bg-body-tertiary">{footer}</div>
      </div>
    </main>
  );
}
