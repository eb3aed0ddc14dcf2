import { definePackageBuild } from "../../tsup.shared.js";

// Two entries: the library, and the `beauvoir-postgres` command that the
// committed bin/ shim imports.
export default definePackageBuild({ entry: ["src/index.ts", "src/cli.ts"] });
