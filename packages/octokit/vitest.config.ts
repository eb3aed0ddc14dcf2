import { definePackageTests } from "../../vitest.shared.js";

export default definePackageTests({ testTimeout: 60_000 });
