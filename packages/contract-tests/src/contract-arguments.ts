/**
 * A suite is called as `suite(factory)` or `suite(name, factory)`; the name
 * only titles the suite.
 */
export function contractArguments<Factory extends (...args: never[]) => unknown>(
  first: string | Factory,
  second: Factory | undefined,
): { name: string; makeSubject: Factory } {
  if (typeof first === "function") return { name: "backend", makeSubject: first };
  if (typeof second !== "function") throw new TypeError("a contract suite needs a subject factory");
  return { name: first, makeSubject: second };
}
