/** Markdown to safe HTML: marked renders, DOMPurify keeps an allow-list of harmless markup.
 *
 * No forms or controls (a fake sign-in form), no style or class (a full-screen overlay), no
 * frames, objects, SVG or MathML; links only to http(s), mailto or this site. Images from other
 * origins never load by themselves (a tracking beacon on page open): they become a link to the
 * image, naming its host, that the reader may choose to open. */
import DOMPurify from "dompurify";
import { marked } from "marked";

const ALLOWED_TAGS = [
  "a",
  "b",
  "blockquote",
  "br",
  "code",
  "del",
  "em",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "hr",
  "i",
  "img",
  "li",
  "ol",
  "p",
  "pre",
  "s",
  "strong",
  "sub",
  "sup",
  "table",
  "tbody",
  "td",
  "th",
  "thead",
  "tr",
  "ul",
];
const ALLOWED_ATTR = ["href", "title", "alt", "src", "start", "colspan", "rowspan", "align"];
// http(s), mailto, or a relative reference (no scheme before the first / ? #)
const ALLOWED_URI_REGEXP = /^(?:(?:https?|mailto):|[^a-z]|[a-z+.-]+(?:[^a-z+.\-:]|$))/i;

export function renderMarkdown(source: string): string {
  const html = marked.parse(source, { async: false, gfm: true, breaks: true });
  return DOMPurify.sanitize(html, {
    ALLOWED_TAGS,
    ALLOWED_ATTR,
    ALLOWED_URI_REGEXP,
    ALLOW_DATA_ATTR: false,
    SANITIZE_DOM: true,
    SANITIZE_NAMED_PROPS: true,
  });
}

function isRemote(src: string): URL | null {
  try {
    const url = new URL(src, window.location.href);
    return url.origin === window.location.origin ? null : url;
  } catch {
    return new URL("about:blank");
  }
}

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  // Links written by users open in a new tab and never get a handle on this window.
  if (node.tagName === "A" && node.getAttribute("href")) {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer nofollow");
  }
  if (node.tagName === "IMG") {
    const remote = isRemote(node.getAttribute("src") ?? "");
    if (remote) {
      const link = node.ownerDocument.createElement("a");
      if (remote.protocol === "http:" || remote.protocol === "https:") {
        link.setAttribute("href", remote.href);
        link.setAttribute("target", "_blank");
        link.setAttribute("rel", "noopener noreferrer nofollow");
      }
      const alt = node.getAttribute("alt");
      link.textContent = `Image from ${remote.host || "elsewhere"}${alt ? `: ${alt}` : ""} (not loaded; open it)`;
      node.replaceWith(link);
    }
  }
});
