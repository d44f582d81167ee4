/**
 * The standard gRPC health service (`grpc.health.v1.Health`): SERVING for the
 * whole server ("") and each of our services, NOT_SERVING once shutdown
 * begins. `Watch` sends the current status and each change; it ends when the
 * server stops serving, so it never holds a graceful shutdown open. As the
 * health protocol says, a `Watch` of an unknown service gets SERVICE_UNKNOWN
 * and stays open (clients read an ended watch as a broken server).
 * @module
 */

import { Code } from "../errors.ts";
import type { GrpcCallback, GrpcServerCall, GrpcStreamCall } from "./grpc_call.ts";

/** `grpc.health.v1.HealthCheckRequest`. */
export interface HealthCheckRequest {
  service: string;
}

/** `grpc.health.v1.HealthCheckResponse` (enums as strings). */
export interface HealthCheckResponse {
  status: "UNKNOWN" | "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN";
}

/** The serving state of a server's services. */
export class HealthService {
  #services: Set<string>;
  #serving = true;
  /** Running watches, each with whether its service is one of ours. */
  #watchers = new Map<GrpcStreamCall<HealthCheckRequest, HealthCheckResponse>, boolean>();

  /** @param services the fully qualified names of the served services */
  constructor(services: readonly string[]) {
    this.#services = new Set(["", ...services]);
  }

  /** Marks every service NOT_SERVING and ends the running watches. */
  stopServing(): void {
    if (!this.#serving) return;
    this.#serving = false;
    for (const [call, known] of this.#watchers) {
      if (known) call.write({ status: "NOT_SERVING" });
      call.end();
    }
    this.#watchers.clear();
  }

  /** The unary `Check`. */
  check(
    call: GrpcServerCall<HealthCheckRequest>,
    callback: GrpcCallback<HealthCheckResponse>,
  ): void {
    const service = call.request.service ?? "";
    if (!this.#services.has(service)) {
      callback({
        code: Code.NotFound,
        details: `Cannot check the health of ${service}: the service is unknown`,
      });
      return;
    }
    callback(null, { status: this.#serving ? "SERVING" : "NOT_SERVING" });
  }

  /** The server-streaming `Watch`. */
  watch(call: GrpcStreamCall<HealthCheckRequest, HealthCheckResponse>): void {
    const known = this.#services.has(call.request.service ?? "");
    if (!known) call.write({ status: "SERVICE_UNKNOWN" });
    else call.write({ status: this.#serving ? "SERVING" : "NOT_SERVING" });
    if (!this.#serving) {
      call.end();
      return;
    }
    this.#watchers.set(call, known);
    const forget = () => this.#watchers.delete(call);
    call.on("cancelled", forget);
    call.on("close", forget);
  }
}
