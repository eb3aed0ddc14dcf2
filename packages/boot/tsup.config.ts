import { definePackageBuild } from "../../tsup.shared.js";

// Two entries: the library, and the `beauvoir` command that the committed
// launcher `bin/beauvoir.js` loads.
export default definePackageBuild({ entry: ["src/index.ts", "src/cli.ts"] });
