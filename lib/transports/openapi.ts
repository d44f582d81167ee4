/**
 * The hand-written OpenAPI 3.1 document of the HTTP listener, served on
 * `GET /openapi.json` and rendered by `GET /docs`. A test checks that every
 * path and method here is served, and every served route is here.
 * @module
 */

import { OPENAI_PATHS, OPENAI_SCHEMAS } from "./openai_openapi.ts";

type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const nullable = (type: string): Schema => ({ type: [type, "null"] });

function json(schema: Schema, description: string): Schema {
  return { description, content: { "application/json": { schema } } };
}

const ERRORS: Record<string, Schema> = {
  "400": { $ref: "#/components/responses/BadRequest" },
  "401": { $ref: "#/components/responses/Unauthorized" },
  "404": { $ref: "#/components/responses/NotFound" },
};

const ID_PARAM: Schema = {
  name: "id",
  in: "path",
  required: true,
  description: "The conversation id",
  schema: { type: "string" },
};

const ASK_OPERATION: Schema = {
  summary: "Ask a question (JSON answer, or Server-Sent Events)",
  description:
    "Send a prompt with the id of the message to answer from. `conversation_id` `new` or empty " +
    "starts a conversation; no `parent_id` continues from the latest message; an older " +
    "`parent_id` starts a branch. With `stream: true` or `Accept: text/event-stream` the answer " +
    "is SSE: `event: delta` `{text}` …, then one `event: done` `{conversation_id, parent_id, " +
    "model, usage}` or one `event: error` `{code, message, conversation_id, parent_id}` (the ids " +
    "of the stored partial reply, to continue from).",
  tags: ["ask"],
  requestBody: { required: true, content: { "application/json": { schema: ref("AskRequest") } } },
  responses: {
    "200": {
      description: "The answer",
      content: {
        "application/json": { schema: ref("AskResponse") },
        "text/event-stream": { schema: { type: "string" } },
      },
    },
    ...ERRORS,
    "413": { $ref: "#/components/responses/TooLarge" },
    "429": { $ref: "#/components/responses/RateLimited" },
    "502": { $ref: "#/components/responses/UpstreamFailed" },
    "503": { $ref: "#/components/responses/ShuttingDown" },
    "504": { $ref: "#/components/responses/UpstreamTimeout" },
  },
};

const SCHEMAS: Record<string, Schema> = {
  Error: {
    type: "object",
    required: ["error"],
    properties: {
      error: {
        type: "object",
        required: ["code", "message"],
        properties: { code: { type: "string" }, message: { type: "string" } },
      },
    },
  },
  Usage: {
    type: ["object", "null"],
    properties: {
      prompt_tokens: { type: "integer" },
      completion_tokens: { type: "integer" },
      total_tokens: { type: "integer" },
    },
  },
  AskRequest: {
    type: "object",
    required: ["prompt"],
    properties: {
      prompt: { type: "string", minLength: 1 },
      parent_id: { ...nullable("string"), description: "The message to answer from" },
      model: { ...nullable("string"), description: "A model other than the default" },
      stream: { type: "boolean", default: false },
    },
  },
  AskResponse: {
    type: "object",
    required: ["message", "conversation_id", "parent_id", "model", "finish_details", "usage"],
    properties: {
      message: { type: "string" },
      conversation_id: { type: "string" },
      parent_id: { type: "string", description: "The new assistant message: send it next time" },
      model: { type: "string" },
      finish_details: { type: "object", properties: { type: { type: "string" } } },
      usage: ref("Usage"),
    },
  },
  ConversationHeader: {
    type: "object",
    required: ["id", "title", "create_time", "update_time", "current_node"],
    properties: {
      id: { type: "string" },
      title: { type: "string" },
      create_time: { type: "number", description: "Seconds since the epoch" },
      update_time: { type: "number", description: "Seconds since the epoch" },
      current_node: nullable("string"),
    },
  },
  Message: {
    type: "object",
    required: ["id", "author", "content", "status", "create_time", "metadata"],
    properties: {
      id: { type: "string" },
      author: { type: "object", properties: { role: { enum: ["system", "user", "assistant"] } } },
      content: {
        type: "object",
        properties: {
          content_type: { const: "text" },
          parts: { type: "array", items: { type: "string" } },
        },
      },
      status: { enum: ["complete", "incomplete", "in_progress"] },
      create_time: { type: "number" },
      metadata: {
        type: "object",
        properties: {
          model_slug: nullable("string"),
          finish_details: { type: ["object", "null"] },
          usage: ref("Usage"),
          parent_id: { ...nullable("string"), description: "The parent message" },
        },
      },
    },
  },
  PathMessage: {
    allOf: [ref("Message"), {
      type: "object",
      properties: { parent: { ...nullable("string"), description: "The parent message" } },
    }],
  },
  Health: {
    type: "object",
    required: ["status"],
    properties: { status: { enum: ["ok", "shutting_down"] } },
  },
  ConversationTree: {
    allOf: [ref("ConversationHeader"), {
      type: "object",
      properties: {
        mapping: {
          type: "object",
          additionalProperties: {
            type: "object",
            properties: {
              id: { type: "string" },
              parent: nullable("string"),
              children: { type: "array", items: { type: "string" } },
              message: ref("Message"),
            },
          },
        },
      },
    }],
  },
  OpenAIObject: { type: "object", description: "OpenAI's wire format", additionalProperties: true },
};

function errorResponse(description: string): Schema {
  return json(ref("Error"), description);
}

const PATHS: Record<string, Schema> = {
  "/ask": { post: { ...ASK_OPERATION, operationId: "askNew" } },
  "/ask/{conversation_id}": {
    post: {
      ...ASK_OPERATION,
      operationId: "ask",
      parameters: [{
        name: "conversation_id",
        in: "path",
        required: true,
        description: "A conversation id, or `new`",
        schema: { type: "string" },
      }],
    },
  },
  "/conversations": {
    get: {
      operationId: "listConversations",
      summary: "The caller's conversations, most recently updated first",
      tags: ["conversations"],
      parameters: [
        { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 1000 } },
        {
          name: "before",
          in: "query",
          description: "Only conversations updated before this time (an `update_time`, seconds)",
          schema: { type: "number" },
        },
      ],
      responses: {
        "200": json({
          type: "object",
          properties: {
            items: { type: "array", items: ref("ConversationHeader") },
            limit: { type: "integer" },
          },
        }, "The list"),
        ...ERRORS,
      },
    },
  },
  "/conversations/{id}": {
    parameters: [ID_PARAM],
    get: {
      operationId: "getConversation",
      summary: "The whole tree of a conversation",
      tags: ["conversations"],
      responses: { "200": json(ref("ConversationTree"), "The tree"), ...ERRORS },
    },
    patch: {
      operationId: "renameConversation",
      summary: "Rename a conversation",
      tags: ["conversations"],
      requestBody: {
        required: true,
        content: {
          "application/json": {
            schema: {
              type: "object",
              required: ["title"],
              properties: { title: { type: "string" } },
            },
          },
        },
      },
      responses: { "200": json(ref("ConversationHeader"), "The renamed conversation"), ...ERRORS },
    },
    delete: {
      operationId: "deleteConversation",
      summary: "Delete a conversation and all its messages",
      tags: ["conversations"],
      responses: {
        "200": json({
          type: "object",
          properties: { id: { type: "string" }, deleted: { const: true } },
        }, "Deleted"),
        ...ERRORS,
      },
    },
  },
  "/conversations/{id}/messages": {
    parameters: [ID_PARAM],
    get: {
      operationId: "getMessages",
      summary: "The path root → message (default: the current node)",
      tags: ["conversations"],
      parameters: [{ name: "parent_id", in: "query", schema: { type: "string" } }],
      responses: {
        "200": json({
          type: "object",
          properties: {
            conversation_id: { type: "string" },
            parent_id: nullable("string"),
            messages: { type: "array", items: ref("PathMessage") },
          },
        }, "The path"),
        ...ERRORS,
      },
    },
  },
  "/healthz": {
    get: {
      operationId: "healthz",
      summary: "Liveness (503 while shutting down); no token needed",
      tags: ["operations"],
      security: [],
      responses: {
        "200": json(ref("Health"), "Healthy"),
        "503": json(ref("Health"), "Draining: the server is shutting down"),
      },
    },
  },
  "/metrics": {
    get: {
      operationId: "metrics",
      summary: "Prometheus metrics; no token needed",
      tags: ["operations"],
      security: [],
      responses: {
        "200": { description: "Text exposition format", content: { "text/plain": {} } },
      },
    },
  },
  "/openapi.json": {
    get: {
      operationId: "openapi",
      summary: "This document",
      tags: ["operations"],
      security: [],
      responses: { "200": json({ type: "object" }, "OpenAPI 3.1") },
    },
  },
  "/docs": {
    get: {
      operationId: "docs",
      summary: "A self-contained page that renders this document, with a form to try /ask",
      tags: ["operations"],
      security: [],
      responses: { "200": { description: "HTML", content: { "text/html": {} } } },
    },
  },
  ...OPENAI_PATHS,
};

/** The OpenAPI 3.1 document of every HTTP route. */
export function buildOpenApiDocument(): Record<string, unknown> {
  return {
    openapi: "3.1.0",
    info: {
      title: "EasyBackend",
      version: "1.0.0",
      description:
        "A self-hosted ChatGPT backend: conversations are kept on the server as trees of messages. " +
        "Send a prompt with `conversation_id` and `parent_id`; get back the ids to continue.",
    },
    security: [{ bearer: [] }],
    tags: [
      { name: "ask", description: "Questions and answers" },
      { name: "conversations", description: "The stored trees" },
      { name: "openai", description: "The OpenAI-compatible API" },
      { name: "operations", description: "Health, metrics, this document" },
    ],
    paths: PATHS,
    components: {
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description: "One of AUTH_TOKENS; not needed when none are set",
        },
      },
      schemas: { ...SCHEMAS, ...OPENAI_SCHEMAS },
      responses: {
        BadRequest: errorResponse("Bad input: malformed JSON, a wrong type, an empty prompt"),
        Unauthorized: errorResponse("No token, or a wrong one"),
        NotFound: errorResponse("Unknown conversation or message"),
        TooLarge: errorResponse(
          "The body is larger than MAX_BODY_BYTES, or the prompt longer than MAX_PROMPT_CHARS",
        ),
        RateLimited: {
          ...errorResponse("Rate-limited; see Retry-After"),
          headers: { "Retry-After": { schema: { type: "integer" } } },
        },
        UpstreamFailed: errorResponse("The upstream failed or rejected the key"),
        UpstreamTimeout: errorResponse("The upstream did not answer in time"),
        ShuttingDown: errorResponse(
          "The server is shutting down (`shutting_down`), or another process holds the " +
            "database's write lock (`store_busy`, with Retry-After); try again",
        ),
      },
    },
  };
}
