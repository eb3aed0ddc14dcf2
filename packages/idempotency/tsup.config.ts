import { definePackageBuild } from "../../tsup.shared.js";

// Two entries: the library, and the `beauvoir-index` command that the committed
// launcher `bin/beauvoir-index.js` loads.
export default definePackageBuild({ entry: ["src/index.ts", "src/cli.ts"] });
