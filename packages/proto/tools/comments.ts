import type { AnyDesc, DescFile } from "@bufbuild/protobuf";
import { getComments } from "@bufbuild/protoplugin";

/**
 * The comment above an element in the .proto source (or after it, when
 * there is none above), as Markdown: the space after `//` removed, line
 * breaks kept. Undefined when the element has no comment or its file came
 * without source info (imports such as the well-known types).
 */
export function describe(desc: Exclude<AnyDesc, DescFile>): string | undefined {
  const comments = getComments(desc);
  const text = comments.leading ?? comments.trailing;
  if (!text) return undefined;
  const lines = text.split("\n").map((line) => (line.startsWith(" ") ? line.slice(1) : line).trimEnd());
  while (lines.length > 0 && lines.at(-1) === "") lines.pop();
  while (lines.length > 0 && lines[0] === "") lines.shift();
  return lines.length > 0 ? lines.join("\n") : undefined;
}

/** The first sentence of a description, on one line: an operation's summary. */
export function firstSentence(text: string): string {
  const paragraph = text.split("\n\n")[0]!.replaceAll("\n", " ");
  const end = paragraph.search(/\.(\s|$)/);
  return end === -1 ? paragraph : paragraph.slice(0, end + 1);
}
