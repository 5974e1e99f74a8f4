/** Bugs across every project I can see. */
import { PageHeader } from "../ui/bits";
import { useDocumentTitle } from "../ui/hooks";
import { BugList } from "./bugParts";

export function BugsPage() {
  useDocumentTitle("Bugs");
  return (
    <>
      <PageHeader title="Bugs" subtitle="Across every project you can see." />
      <BugList projectKey={null} />
    </>
  );
}
