/**
 * `GET /v1/models` in OpenAI's list format, from the engine's model list.
 * @module
 */

import type { Engine } from "../engine/types.ts";
import type { CallContext } from "../providers/provider.ts";
import { jsonResponse } from "./openai_errors.ts";

/** One entry of OpenAI's model list. */
export interface OpenAIModel {
  id: string;
  object: "model";
  created: number;
  "owned_by": string;
}

/** Answers `GET /v1/models`: `{"object":"list","data":[…]}`. */
export async function handleModels(ctx: CallContext, engine: Engine): Promise<Response> {
  const models = await engine.listModels(ctx);
  const data: OpenAIModel[] = models.map((m) => ({
    id: m.id,
    object: "model",
    created: m.created,
    owned_by: m.ownedBy,
  }));
  return jsonResponse({ object: "list", data });
}
