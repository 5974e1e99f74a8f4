import { describe, expect, it } from "vitest";

import { rerunRequest } from "../../api/jobs";
import { aJob } from "../../test/jobs";
import { addFiles, draftOf, inputProblem, readInputFile, toBase64 } from "./inputFiles";

const caps = { maxBytes: 100, maxFiles: 3 };
const file = (path: string, size: number) => ({
  path,
  content: "x".repeat(size),
  encoding: "utf8" as const,
  size,
});

describe("inputProblem", () => {
  it("lets files within the caps through", () => {
    expect(inputProblem("main.py", "print(1)", "", [file("a.txt", 10)], caps)).toBeNull();
  });

  it("refuses too many files, too many bytes and a file named like the script", () => {
    expect(inputProblem("main.py", "", "", [file("a", 1), file("b", 1), file("c", 1)], caps)).toMatch(
      /At most 2 files/,
    );
    expect(inputProblem("main.py", "x".repeat(50), "y".repeat(30), [file("a", 21)], caps)).toMatch(
      /at most 100 B can be sent/,
    );
    expect(inputProblem("main.py", "", "", [file("main.py", 1)], caps)).toMatch(/may not be called main.py/);
  });
});

describe("input files", () => {
  it("reads text as UTF-8 and anything else as base64", async () => {
    expect(await readInputFile(new File(["a,b\n"], "d.csv"))).toEqual({
      path: "d.csv",
      content: "a,b\n",
      encoding: "utf8",
      size: 4,
    });
    const binary = await readInputFile(new File([new Uint8Array([0, 255])], "x.bin"));
    expect(binary).toEqual({ path: "x.bin", content: "AP8=", encoding: "base64", size: 2 });
    expect(toBase64(new Uint8Array([104, 105]))).toBe("aGk=");
  });

  it("replaces a file added again under the same name", () => {
    expect(addFiles([file("a", 1), file("b", 1)], [file("a", 2)]).map((f) => [f.path, f.size])).toEqual([
      ["b", 1],
      ["a", 2],
    ]);
  });
});

describe("running a past job again", () => {
  it("resubmits its source, stdin, args, runtime and limits", () => {
    expect(rerunRequest(aJob())).toEqual({
      runtime: "python",
      entrypoint: "main.py",
      source: "print('hi')",
      stdin: "in",
      args: ["-v"],
      limits: { wall_time_s: 5, memory_mb: 128, output_bytes: 1000 },
    });
  });

  it("resubmits files as they were, and nothing for a purged job", () => {
    const files = [
      { path: "app.py", content: "import d", encoding: "utf8" as const, size: 8 },
      { path: "d.bin", content: "AP8=", encoding: "base64" as const, size: 2 },
    ];
    const job = aJob({ source: null, input_files: files, entrypoint: "app.py" });
    expect(rerunRequest(job)?.files).toEqual(
      files.map(({ path, content, encoding }) => ({ path, content, encoding })),
    );
    expect(
      rerunRequest(aJob({ source: null, input_files: null, purged_at: "2026-12-07T10:00:00Z" })),
    ).toBeNull();
  });

  it("opens in the editor with the entrypoint as the script and the other files beside it", () => {
    const files = [
      { path: "main.py", content: btoa("print(1)"), encoding: "base64" as const, size: 8 },
      { path: "d.txt", content: "x", encoding: "utf8" as const, size: 1 },
    ];
    expect(draftOf(aJob({ source: null, input_files: files }))).toEqual({
      source: "print(1)",
      stdin: "in",
      files: [files[1]],
    });
    expect(draftOf(aJob())).toEqual({ source: "print('hi')", stdin: "in", files: [] });
  });
});
