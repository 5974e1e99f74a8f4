/** Any path the app doesn't know. */
import { Link } from "react-router";

import { EmptyState } from "../ui/states";
import { useDocumentTitle } from "../ui/hooks";

export function NotFound() {
  useDocumentTitle("Not found");
  return (
    <EmptyState
      level={1}
      icon="?"
      title="There's nothing at this address"
      action={
        <Link className="btn btn-primary" to="/">
          Go to the dashboard
        </Link>
      }
    >
      The link may be mistyped, or the page may have moved.
    </EmptyState>
  );
}
