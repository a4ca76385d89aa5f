import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { repoRoot } from "@vigil/testkit";
import GithubSlugger from "github-slugger";
import { describe, expect, it } from "vitest";

/** Every Markdown file in the repository (tracked, or new and not ignored). */
const docs = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "*.md"], {
  cwd: repoRoot,
  encoding: "utf8",
})
  .split("\n")
  .filter((f) => f && existsSync(join(repoRoot, f)));

/** A path git ignores (web/dist, .tools/…) is made by a build: it need not exist on a fresh clone. */
function isBuildOutput(path: string): boolean {
  // As a file, or as a folder (a pattern such as `web/dist/` matches only a folder that is there).
  return [path, `${path.replace(/\/$/, "")}/`].some((p) => {
    try {
      execFileSync("git", ["check-ignore", "-q", "--no-index", p], { cwd: repoRoot });
      return true;
    } catch {
      return false;
    }
  });
}

/** Top-level folders of the repository: a code span starting with one names a file in it. */
const topLevel = [
  "services",
  "packages",
  "charts",
  "docs",
  "e2e",
  "scripts",
  "proto",
  "simulator",
  "bench",
  "load-tests",
  "docker",
  "web",
];
const pathLike = new RegExp(`^(?:${topLevel.join("|")})/[\\w./@-]*$`);

/** The text outside fenced code blocks (commands and output there are examples, not references). */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "");
}

/** GitHub's anchors of a Markdown file's headings. */
function anchors(file: string): Set<string> {
  const slugger = new GithubSlugger();
  const text = prose(readFileSync(file, "utf8"));
  return new Set([...text.matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)].map((m) => slugger.slug(m[1]!)));
}

describe("the docs", () => {
  it("are found", () => {
    expect(docs).toEqual(expect.arrayContaining(["README.md", "docs/api.md", "charts/vigil/README.md"]));
  });

  it.each(docs)("%s: every relative link leads to a file, and every #anchor to a heading", (doc) => {
    const file = join(repoRoot, doc);
    const broken: string[] = [];
    // [text](target) and [text]: target; images too.
    const text = prose(readFileSync(file, "utf8"));
    const targets = [
      ...[...text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!),
      ...[...text.matchAll(/^\[[^\]]+\]:\s+(\S+)/gm)].map((m) => m[1]!),
    ];
    for (const target of targets) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
      const [path, anchor] = target.split("#") as [string, string | undefined];
      const linked = path ? join(dirname(file), decodeURIComponent(path)) : file;
      if (!existsSync(linked)) {
        broken.push(`${target}: no ${relative(repoRoot, linked)}`);
        continue;
      }
      if (anchor && linked.endsWith(".md") && !anchors(linked).has(anchor)) {
        broken.push(`${target}: no heading #${anchor} in ${relative(repoRoot, linked)}`);
      }
    }
    expect(broken).toEqual([]);
  });

  // As a file or as a folder (patterns such as "web/dist/" match folders only).
  const gitIgnores = (path: string) =>
    [path, `${path}/`].some(
      (p) => spawnSync("git", ["check-ignore", "-q", "--no-index", p], { cwd: repoRoot }).status === 0,
    );

  it.each(docs)("%s: every file path named in code exists", (doc) => {
    const file = join(repoRoot, doc);
    const missing: string[] = [];
    for (const [, span] of prose(readFileSync(file, "utf8")).matchAll(/`([^`\n]+)`/g)) {
      const path = span!.replace(/[.,:;)]+$/, "").replace(/:\d+$/, "");
      if (!pathLike.test(path) || isBuildOutput(path)) continue;
      // From the repository's root, or from the document's folder (charts/vigil/README.md names `ci/…`).
      if (existsSync(join(repoRoot, path)) || existsSync(join(dirname(file), path))) continue;
      // Build outputs (web/dist, test results) exist only after a build: named in the docs, ignored by git.
      if (!gitIgnores(path)) missing.push(path);
    }
    expect(missing).toEqual([]);
  });
});
