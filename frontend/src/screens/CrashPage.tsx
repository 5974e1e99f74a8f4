/** Shown instead of React Router's default screen when a page throws while rendering. */
import { isRouteErrorResponse, useRouteError } from "react-router";

import { useDocumentTitle } from "../ui/hooks";

export function CrashPage() {
  useDocumentTitle("Something went wrong");
  const error = useRouteError();
  const detail = isRouteErrorResponse(error)
    ? `${error.status} ${error.statusText}`
    : error instanceof Error
      ? error.message
      : null;
  return (
    <main id="main" className="boot">
      <div className="boot-card text-center">
        <h1 className="h4">Something went wrong on this page</h1>
        <p className="text-body-secondary">
          It's a bug in Nimbus, not something you did. Reloading usually helps.
        </p>
        {detail && <pre className="small text-start bg-body-tertiary p-2 rounded text-wrap">{detail}</pre>}
        <div className="d-flex gap-2 justify-content-center">
          <button type="button" className="btn btn-primary" onClick={() => window.location.reload()}>
            Reload
          </button>
          <a className="btn btn-outline-secondary" href="/">
            Go to the dashboard
          </a>
        </div>
      </div>
    </main>
  );
}
