import { definePackageBuild } from "../../tsup.shared.js";

// Two entries: the library, and the `beauvoir-audit` bin (its shebang is kept
// and tsup marks the output executable).
export default definePackageBuild({ entry: ["src/index.ts", "src/cli.ts"] });
