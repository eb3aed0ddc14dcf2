// The issues the demo repository starts with, and the triage rule the agent
// applies to them: one label and one comment per issue.
import type { SeedIssue } from "./github-server.js";

export const DEMO_ISSUES: SeedIssue[] = [
  {
    number: 1,
    title: "Crash when config file is empty",
    body: "Stack trace attached. It crashes on start.",
  },
  { number: 2, title: "Add dark mode", body: "Feature request: a dark theme would be nice." },
  { number: 3, title: "Docs: typo in README", body: "The install section says 'npm instal'." },
  { number: 4, title: "Error 500 on upload", body: "Uploading a 2 MB file fails with an error." },
  { number: 5, title: "Support for YAML config", body: "Feature: accept config.yaml too." },
  { number: 6, title: "Broken link in docs", body: "The docs link to the API page is dead." },
  { number: 7, title: "Memory leak after 2 days", body: "RSS grows until the process crashes." },
  { number: 8, title: "Question: proxy support?", body: "Does it work behind an HTTP proxy?" },
];

/** The label the agent gives an issue, from words in its title and body. */
export function labelFor(issue: { title: string; body?: string | null | undefined }): string {
  const text = `${issue.title} ${issue.body ?? ""}`.toLowerCase();
  if (/crash|error|leak|broken|fails/.test(text)) return "bug";
  if (/docs|typo|readme/.test(text)) return "documentation";
  if (/feature|support|add /.test(text)) return "enhancement";
  return "question";
}
