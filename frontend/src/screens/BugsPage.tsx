/** Bugs across every project I can see, or one project's, with a way to file one. */
import { Link, useSearchParams } from "react-router";

import { flattenPages, useProjects } from "../api/queries";
import { useHasPermission } from "../app/currentUser";
import { PageHeader } from "../ui/bits";
import { SelectField } from "../ui/forms";
import { useDocumentTitle } from "../ui/hooks";
import { BugList } from "./bugParts";

export function BugsPage() {
  useDocumentTitle("Bugs");
  const [params, setParams] = useSearchParams();
  const project = params.get("project") ?? "";
  const projects = flattenPages(useProjects().data);
  const mayFile = useHasPermission("bugs:create");

  function chooseProject(key: string) {
    const next = new URLSearchParams(params);
    if (key) next.set("project", key);
    else next.delete("project");
    setParams(next, { replace: true });
  }

  return (
    <>
      <PageHeader
        title="Bugs"
        subtitle={project ? `In ${project}.` : "Across every project you can see."}
        actions={
          mayFile && (
            <Link className="btn btn-primary" to={project ? `/bugs/new?project=${project}` : "/bugs/new"}>
              File a bug
            </Link>
          )
        }
      />
      <BugList
        projectKey={project || null}
        leading={
          <SelectField
            className="col-6 col-md"
            label="Project"
            value={project}
            onChange={(e) => chooseProject(e.target.value)}
          >
            <option value="">All projects</option>
            {projects.map((p) => (
              <option key={p.key} value={p.key}>
                {p.key} · {p.name}
              </option>
            ))}
          </SelectField>
        }
      />
    </>
  );
}
