/**
 * The OpenAPI description of the OpenAI-compatible routes, merged into the
 * document of `openapi.ts`: paths and the schemas they name.
 * @module
 */

type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });

function openAIError(description: string): Schema {
  return { description, content: { "application/json": { schema: ref("OpenAIError") } } };
}

const ERRORS: Record<string, Schema> = {
  "400": openAIError("Bad input or an unsupported field (`param` names it)"),
  "401": openAIError("No client token, or a wrong one"),
  "404": openAIError("Unknown response or previous_response_id"),
  "429": openAIError("Rate-limited; see Retry-After"),
  "502": openAIError("The upstream failed"),
  "504": openAIError("The upstream did not answer in time"),
};

/** Schemas of the OpenAI-compatible routes. */
export const OPENAI_SCHEMAS: Record<string, Schema> = {
  OpenAIError: {
    type: "object",
    required: ["error"],
    properties: {
      error: {
        type: "object",
        required: ["message", "type", "param", "code"],
        properties: {
          message: { type: "string" },
          type: { type: "string", examples: ["invalid_request_error"] },
          param: { type: ["string", "null"], examples: ["tools"] },
          code: { type: ["string", "null"] },
        },
      },
    },
  },
  ChatCompletionRequest: {
    type: "object",
    description: "OpenAI's Chat Completions body. Sent upstream as is when the upstream " +
      "speaks OpenAI's format; otherwise only text messages are accepted.",
    required: ["messages"],
    properties: {
      model: { type: "string" },
      messages: {
        type: "array",
        items: {
          type: "object",
          required: ["role", "content"],
          properties: {
            role: { enum: ["system", "developer", "user", "assistant"] },
            content: { oneOf: [{ type: "string" }, { type: "array", items: { type: "object" } }] },
          },
        },
      },
      stream: { type: "boolean", default: false },
      "stream_options": {
        type: "object",
        properties: { "include_usage": { type: "boolean" } },
      },
    },
    additionalProperties: true,
  },
  ResponseRequest: {
    type: "object",
    description: "OpenAI's Responses body. Tools, files, images, background and " +
      "conversation are refused with a 400 naming the field.",
    required: ["input"],
    properties: {
      model: { type: "string" },
      input: {
        oneOf: [{ type: "string" }, {
          type: "array",
          items: {
            type: "object",
            required: ["role", "content"],
            properties: {
              role: { enum: ["system", "developer", "user", "assistant"] },
              content: {
                oneOf: [{ type: "string" }, {
                  type: "array",
                  items: {
                    type: "object",
                    properties: { type: { const: "input_text" }, text: { type: "string" } },
                  },
                }],
              },
            },
          },
        }],
      },
      instructions: { type: "string", description: "System text for this call" },
      "previous_response_id": {
        type: "string",
        description: "Any message id (a response id or a parent_id of /ask); an older one branches",
      },
      store: {
        type: "boolean",
        default: true,
        description: "false: answer statelessly; the id cannot be retrieved or continued",
      },
      stream: { type: "boolean", default: false },
    },
  },
  Response: {
    type: "object",
    description: "OpenAI's Response object; `id` is the assistant message id in the tree. " +
      "The sampling and tool fields are always the fixed values EasyBackend uses.",
    required: ["id", "object", "created_at", "status", "model", "output", "usage"],
    properties: {
      id: { type: "string" },
      object: { const: "response" },
      "created_at": { type: "integer" },
      status: { enum: ["completed", "incomplete", "failed", "in_progress"] },
      background: { const: false },
      model: { type: "string" },
      output: { type: "array", items: { type: "object" } },
      usage: { type: ["object", "null"] },
      "previous_response_id": { type: ["string", "null"] },
      instructions: { type: ["string", "null"] },
      store: { type: "boolean" },
      error: { type: ["object", "null"] },
      "incomplete_details": { type: ["object", "null"] },
      "max_output_tokens": { type: "null" },
      "parallel_tool_calls": { const: false },
      temperature: { type: "null" },
      "top_p": { type: "null" },
      text: { type: "object", description: 'Always `{"format": {"type": "text"}}`' },
      "tool_choice": { const: "none" },
      tools: { type: "array", maxItems: 0 },
      truncation: { const: "disabled" },
      metadata: { type: "object" },
      conversation: {
        type: ["object", "null"],
        properties: { id: { type: "string" } },
      },
    },
  },
  ModelList: {
    type: "object",
    properties: {
      object: { const: "list" },
      data: {
        type: "array",
        items: {
          type: "object",
          properties: {
            id: { type: "string" },
            object: { const: "model" },
            created: { type: "integer" },
            "owned_by": { type: "string" },
          },
        },
      },
    },
  },
};

function operation(
  operationId: string,
  summary: string,
  body: string | null,
  result: string,
  streams: boolean,
): Schema {
  return {
    operationId,
    summary,
    tags: ["openai"],
    ...(body
      ? { requestBody: { required: true, content: { "application/json": { schema: ref(body) } } } }
      : {}),
    responses: {
      "200": {
        description: streams ? "The answer; with `stream: true`, Server-Sent Events" : "The answer",
        content: {
          "application/json": { schema: ref(result) },
          ...(streams ? { "text/event-stream": { schema: { type: "string" } } } : {}),
        },
      },
      ...ERRORS,
    },
  };
}

/** Paths of the OpenAI-compatible routes. */
export const OPENAI_PATHS: Record<string, Schema> = {
  "/v1/chat/completions": {
    post: operation(
      "chatCompletions",
      "OpenAI Chat Completions (passed through to the upstream, or synthesized); nothing stored",
      "ChatCompletionRequest",
      "OpenAIObject",
      true,
    ),
  },
  "/v1/models": {
    get: operation(
      "listModels",
      "The upstream's models, OpenAI's list format",
      null,
      "ModelList",
      false,
    ),
  },
  "/v1/responses": {
    post: operation(
      "createResponse",
      "OpenAI Responses: each response is an assistant message of the conversation tree",
      "ResponseRequest",
      "Response",
      true,
    ),
  },
  "/v1/responses/{id}": {
    get: {
      ...operation(
        "getResponse",
        "A stored response, by assistant message id",
        null,
        "Response",
        false,
      ),
      parameters: [{
        name: "id",
        in: "path",
        required: true,
        description: "The response id (an assistant message id)",
        schema: { type: "string" },
      }],
    },
  },
};
