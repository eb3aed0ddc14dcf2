import { definePackageTests } from "../../vitest.shared.js";

// The SIGKILL test spawns 50 writers; give it room on a loaded 2-core machine.
export default definePackageTests({ branches: 85, testTimeout: 60_000 });
