/**
 * A worker thread of the facilitator benchmark: a row's resource server or a share of its paying
 * clients (facilitatorLoad.ts). Answers id 0 once ready, then one answer per phase it is sent.
 */
import { parentPort, workerData } from "node:worker_threads";

import {
  PayingClients,
  startResourceServer,
  type WorkerAnswer,
  type WorkerData,
  type WorkerRequest,
} from "./facilitatorLoad.js";

const data = workerData as WorkerData;
const port = parentPort!;
const answer = (message: WorkerAnswer) => port.postMessage(message);

async function main(): Promise<void> {
  if (data.role === "server") {
    const server = await startResourceServer(data.spec, data.facilitatorUrl);
    port.on("message", (request: WorkerRequest) =>
      answer({ id: request.id, stages: server.stages() }),
    );
    answer({ id: 0, ready: true, url: server.url });
    return;
  }
  const clients = await PayingClients.create(data.spec, data.keys, data.url);
  port.on("message", (request: WorkerRequest) => {
    if (!request.phase) return;
    clients.run(request.phase).then(
      (result) => answer({ id: request.id, result }),
      (error: unknown) => answer({ id: request.id, error: String(error) }),
    );
  });
  answer({ id: 0, ready: true });
}

main().catch((error: unknown) =>
  answer({ id: 0, error: (error as Error)?.stack ?? String(error) }),
);
