// A circuit breaker around fetch. A local server (loopback only) plays a GitHub
// API in trouble: it answers 503 to everything. After three failures the
// circuit opens, and further calls are refused at once without reaching the
// server. Once the open time has passed and the server has recovered, two
// successful probe calls close the circuit again.
//
// expect: call 1: failed with 503 (transient)
// expect: circuit OPEN after 3 failures
// expect: call 4: refused (CIRCUIT_OPEN), circuit open for 300 ms
// expect: the server saw 3 requests, not 5
// expect: circuit CLOSED after 2 successful probes
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { CircuitBreaker, CircuitOpenError, classifyFailure } from "@beauvoir/breaker";

let healthy = false;
let requests = 0;
const server = createServer((_request, response) => {
  requests++;
  if (healthy) {
    response.writeHead(200, { "content-type": "application/json" }).end('{"login":"octocat"}');
  } else {
    response
      .writeHead(503, { "content-type": "application/json" })
      .end('{"message":"Service Unavailable"}');
  }
});
server.listen(0, "127.0.0.1");
await once(server, "listening");
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/user`;

const breaker = new CircuitBreaker({
  name: "github",
  failureThreshold: 3, // 3 countable failures within the window open the circuit
  openDurationMs: 300, // refuse calls for 300 ms, then let probes through
  halfOpenProbeCount: 2, // 2 successful probes close it again
});
breaker.on("open", () =>
  console.log(`circuit OPEN after ${breaker.getStats().countableFailures} failures`),
);
breaker.on("close", ({ reason }) => {
  if (reason === "probes_succeeded") console.log("circuit CLOSED after 2 successful probes");
});

// The protected call: the signal aborts the request on timeout; a failed
// response is thrown as is, and classified by its status and headers.
const getUser = async (signal: AbortSignal) => {
  const response = await fetch(url, { signal });
  if (!response.ok) throw response;
  return (await response.json()) as { login: string };
};

for (let call = 1; call <= 5; call++) {
  try {
    await breaker.execute(getUser, { timeoutMs: 2_000 });
  } catch (error) {
    if (CircuitOpenError.isInstance(error)) {
      // retryAt is when the circuit half-opens: 300 ms after it opened.
      const waitMs = error.retryAt - (breaker.getStats().openedAt ?? 0);
      console.log(`call ${call}: refused (${error.code}), circuit open for ${waitMs} ms`);
    } else if (error instanceof Response) {
      console.log(`call ${call}: failed with ${error.status} (${classifyFailure(error)})`);
    } else {
      throw error;
    }
  }
}
console.log(`the server saw ${requests} requests, not 5`);

// The API recovers; after the open time the breaker lets probes through.
healthy = true;
await new Promise((resolve) => setTimeout(resolve, 300));
for (let probe = 0; probe < 2; probe++) {
  const user = await breaker.execute(getUser, { timeoutMs: 2_000 });
  console.log(`probe ${probe + 1}: hello ${user.login}`);
}

server.close();
