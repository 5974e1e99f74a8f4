/** The Python editor (CodeMirror 6). Tab keeps moving focus; Ctrl/⌘+Enter runs the script. */
import { python } from "@codemirror/lang-python";
import { defaultHighlightStyle, HighlightStyle, syntaxHighlighting } from "@codemirror/language";
import { EditorState } from "@codemirror/state";
import { keymap } from "@codemirror/view";
import { basicSetup, EditorView } from "codemirror";
import { useEffect, useRef } from "react";

// CodeMirror's default token colours, but two are too light on white for WCAG AA (4.5:1, axe):
// #e40 (f-string fields, escapes) is 3.8:1 and #f00 (invalid) 4.0:1. Darker ones instead.
const DARKER: Record<string, string> = { "#e40": "#b83400", "#f00": "#c00" };
const highlightStyle = HighlightStyle.define(
  defaultHighlightStyle.specs.map((spec) =>
    typeof spec.color === "string" && spec.color in DARKER ? { ...spec, color: DARKER[spec.color] } : spec,
  ),
);

export function CodeEditor({
  initialValue,
  labelledBy,
  describedBy,
  onChange,
  onRun,
}: {
  initialValue: string;
  labelledBy: string;
  describedBy?: string;
  onChange: (value: string) => void;
  onRun: () => void;
}) {
  const host = useRef<HTMLDivElement>(null);
  // The editor lives outside React; it calls the latest callbacks through these.
  const callbacks = useRef({ onChange, onRun });
  useEffect(() => {
    callbacks.current = { onChange, onRun };
  }, [onChange, onRun]);

  useEffect(() => {
    const parent = host.current;
    if (!parent) return;
    const view = new EditorView({
      parent,
      state: EditorState.create({
        doc: initialValue,
        extensions: [
          keymap.of([
            {
              key: "Mod-Enter",
              run: () => {
                callbacks.current.onRun();
                return true;
              },
            },
          ]),
          basicSetup,
          syntaxHighlighting(highlightStyle), // replaces basicSetup's fallback style
          python(),
          EditorView.lineWrapping,
          EditorView.contentAttributes.of({
            "aria-labelledby": labelledBy,
            ...(describedBy ? { "aria-describedby": describedBy } : {}),
          }),
          EditorView.updateListener.of((update) => {
            if (update.docChanged) callbacks.current.onChange(update.state.doc.toString());
          }),
        ],
      }),
    });
    return () => view.destroy();
    // The document is the editor's own state after the first render.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  return <div ref={host} className="code-editor" data-testid="code-editor" />;
}

export default CodeEditor;
