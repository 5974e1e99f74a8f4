import { describe, expect, it } from "vitest";

import { decodeText, imageType, MAX_TEXT_PREVIEW_BYTES, parseCsv, prettyJson, previewKind } from "./preview";

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
const bytes = (text: string) => new TextEncoder().encode(text);

describe("previewKind", () => {
  it("previews images, CSV, JSON and text by their name", () => {
    expect(previewKind("plot.PNG", 10)).toBe("image");
    expect(previewKind("out/data.csv", 10)).toBe("csv");
    expect(previewKind("r.json", 10)).toBe("json");
    expect(previewKind("notes.txt", 10)).toBe("text");
  });

  it("shows SVG and HTML as their source, never drawn", () => {
    expect(previewKind("logo.svg", 10)).toBe("text");
    expect(previewKind("page.html", 10)).toBe("text");
  });

  it("offers only the download for other or oversized files", () => {
    expect(previewKind("model.bin", 10)).toBeNull();
    expect(previewKind("README", 10)).toBeNull();
    expect(previewKind("big.txt", MAX_TEXT_PREVIEW_BYTES + 1)).toBeNull();
  });
});

describe("imageType", () => {
  it("takes an allow-listed raster type whose bytes match its name", () => {
    expect(imageType("a.png", PNG)).toBe("image/png");
    expect(imageType("a.gif", bytes("GIF89a..."))).toBe("image/gif");
    expect(imageType("a.jpg", new Uint8Array([0xff, 0xd8, 0xff, 0xe0]))).toBe("image/jpeg");
  });

  it("refuses bytes that are not the image the name says", () => {
    expect(imageType("a.png", bytes("<svg onload=alert(1)>"))).toBeNull();
    expect(imageType("a.jpg", PNG)).toBeNull();
    expect(imageType("a.svg", bytes("<svg/>"))).toBeNull();
  });
});

describe("parseCsv", () => {
  it("reads quoted cells, doubled quotes, commas and newlines inside quotes", () => {
    expect(parseCsv('a,b\r\n"x, y","say ""hi"""\n"multi\nline",2\n').rows).toEqual([
      ["a", "b"],
      ["x, y", 'say "hi"'],
      ["multi\nline", "2"],
    ]);
  });

  it("stops at the row limit and says so", () => {
    const { rows, truncated } = parseCsv("1\n2\n3\n4\n", 2);
    expect(rows).toEqual([["1"], ["2"]]);
    expect(truncated).toBe(true);
    expect(parseCsv("1\n2", 2).truncated).toBe(false);
  });
});

describe("text", () => {
  it("pretty-prints JSON and refuses what is not", () => {
    expect(prettyJson('{"a":[1]}')).toBe('{\n  "a": [\n    1\n  ]\n}');
    expect(prettyJson("{nope")).toBeNull();
  });

  it("decodes UTF-8 and refuses binary", () => {
    expect(decodeText(bytes("héllo"))).toBe("héllo");
    expect(decodeText(new Uint8Array([0xff, 0xfe]))).toBeNull();
    expect(decodeText(new Uint8Array([0x61, 0x00]))).toBeNull();
  });
});
