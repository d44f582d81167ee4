/**
 * The `GET /docs` page: one self-contained HTML file (inline CSS and JS, no
 * CDN) that renders `/openapi.json`, has a live streaming form for `/ask`, a
 * small "try it" form for every other call, a token field, a WebSocket
 * console for both WS protocols, and the gRPC services with grpcurl examples.
 * @module
 */

import { DOCS_SCRIPT } from "./docs_script.ts";

/** What the page says about the other listeners, from the server's configuration. */
export interface DocsPageOptions {
  /** The configured WS_PORT; 0 (an ephemeral port) leaves the console's URL for the user. */
  wsPort: number;
  /** The configured GRPC_PORT, shown in the grpcurl examples. */
  grpcPort: number;
  /** Whether TLS is on: `wss://` and grpcurl without `-plaintext`. */
  tls: boolean;
}

const STYLE = `
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header,main{max-width:960px;margin:0 auto;padding:1rem}
header{border-bottom:1px solid #ddd}
h1{margin:.2rem 0}h2{margin-top:2rem;border-bottom:1px solid #eee}h3{margin:1.2rem 0 .3rem}
label{display:block;margin:.4rem 0 .1rem;font-weight:600;font-size:.9em}
input,textarea,select{width:100%;box-sizing:border-box;font:inherit;padding:.35rem;border:1px solid #bbb;border-radius:4px}
textarea{min-height:4.5rem;font-family:ui-monospace,monospace}
button{font:inherit;padding:.35rem .9rem;margin:.5rem .4rem 0 0;border:0;border-radius:4px;background:#0b63ce;color:#fff;cursor:pointer}
button.secondary{background:#666}
pre{background:#111;color:#eee;padding:.7rem;border-radius:4px;overflow:auto;white-space:pre-wrap;min-height:1.5rem}
pre.log{max-height:14rem;font-size:.85em}
code{font-family:ui-monospace,monospace;font-size:.92em;background:#eee;padding:0 .2rem;border-radius:3px}
pre code{background:none;padding:0}
table{border-collapse:collapse;width:100%;margin:.4rem 0}
td,th{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f0f0f0}
details{background:#fff;border:1px solid #ddd;border-radius:6px;margin:.5rem 0;padding:.4rem .8rem}
summary{cursor:pointer}.m{display:inline-block;min-width:4.5rem;font-weight:700;font-family:ui-monospace,monospace}
.row{display:flex;gap:.8rem}.row>div{flex:1}.muted{color:#666}
`;

const ASK_SECTION = `<section id="ask"><h2>Try /ask</h2>
<form id="ask-form">
<div class="row"><div><label for="cid">conversation_id</label><input id="cid" value="new"></div>
<div><label for="pid">parent_id</label><input id="pid" placeholder="empty: continue from the latest"></div>
<div><label for="model">model</label><input id="model" placeholder="default"></div></div>
<label for="prompt">prompt</label><textarea id="prompt">Hello! Who are you?</textarea>
<label><input id="stream" type="checkbox" checked style="width:auto"> stream (Server-Sent Events)</label>
<button type="submit">Ask</button><button type="button" class="secondary" id="ask-stop">Stop</button>
<button type="button" class="secondary" id="ask-reset">New conversation</button>
</form>
<label>Answer</label><pre id="ask-out"></pre><label>Details</label><pre id="ask-meta"></pre>
</section>`;

function websocketSection(o: DocsPageOptions): string {
  const scheme = o.tls ? "wss" : "ws";
  const port = o.wsPort === 0 ? "WS_PORT" : String(o.wsPort);
  return `<section id="websocket"><h2>WebSocket</h2>
<p>Connect to <code>${scheme}://<span class="host">&lt;host&gt;</span>:${port}/</code> (any path). With <code>AUTH_TOKENS</code> set,
send <code>authorization: Bearer &lt;token&gt;</code>, or <code>?token=&lt;token&gt;</code> in the URL, or the
sub-protocol <code>bearer.&lt;token&gt;</code> (browsers cannot set headers). Each text frame is read
as JSON when it starts with <code>{</code>, else as the original protocol.</p>
<h3>The original protocol</h3>
<table><tr><th>direction</th><th>frame</th></tr>
<tr><td>→ ask</td><td><code>&lt;|ask|&gt;$&lt;conversation_id&gt;$&lt;parent_id&gt;$&lt;prompt&gt;</code>: ids may be <code>new</code>
(or empty); everything after the third <code>$</code> is the prompt, <code>$</code> included</td></tr>
<tr><td>← text</td><td>the reply, piece by piece, as plain text frames</td></tr>
<tr><td>← end</td><td><code>&lt;|end|&gt;$&lt;conversation_id&gt;$&lt;parent_id&gt;</code>: send these ids with the next ask</td></tr>
<tr><td>← error</td><td><code>&lt;|err|&gt;$&lt;reason&gt;</code></td></tr></table>
<p>Asks on one socket are answered one after another.</p>
<h3>JSON frames</h3>
<table><tr><th>direction</th><th>frame</th></tr>
<tr><td>→ ask</td><td><code>{"type":"ask","id":"c1","prompt":"…","conversation_id":"new","parent_id":null,"model":"…"}</code></td></tr>
<tr><td>← delta</td><td><code>{"type":"delta","id":"c1","text":"…"}</code></td></tr>
<tr><td>← done</td><td><code>{"type":"done","id":"c1","request_id","conversation_id","parent_id","model","finish_reason","usage"}</code></td></tr>
<tr><td>← error</td><td><code>{"type":"error","id":"c1","request_id","code","message"}</code></td></tr>
<tr><td>→ cancel</td><td><code>{"type":"cancel","id":"c1"}</code>: stops that answer (stored <code>incomplete</code>)</td></tr></table>
<p>Several JSON asks may run at once on one socket; the <code>id</code> tells their frames apart.</p>
<h3>Try it</h3>
<form id="ws-form">
<label for="ws-url">WebSocket URL (the token field above is sent as <code>?token=</code>)</label>
<input id="ws-url" placeholder="${scheme}://host:WS_PORT/">
<div class="row"><div><label for="ws-mode">protocol</label><select id="ws-mode">
<option value="json">JSON frames</option><option value="legacy">original (&lt;|ask|&gt;$…)</option></select></div>
<div><label for="ws-cid">conversation_id</label><input id="ws-cid" value="new"></div>
<div><label for="ws-pid">parent_id</label><input id="ws-pid" placeholder="empty: continue from the latest"></div></div>
<label for="ws-prompt">prompt</label><textarea id="ws-prompt">Hello over WebSocket!</textarea>
<button type="submit">Ask</button><button type="button" class="secondary" id="ws-cancel">Cancel</button>
<button type="button" class="secondary" id="ws-reset">New conversation</button>
<span id="ws-state" class="muted">not connected</span>
</form>
<label>Answer</label><pre id="ws-out"></pre><label>Frames</label><pre id="ws-log" class="log"></pre>
</section>`;
}

function grpcSection(o: DocsPageOptions): string {
  const port = o.grpcPort === 0 ? "GRPC_PORT" : String(o.grpcPort);
  const target = `<span class="host">&lt;host&gt;</span>:${port}`;
  const flag = o.tls ? "" : "-plaintext ";
  return `<section id="grpc"><h2>gRPC</h2>
<p>Dial <code>${target}</code>${
    o.tls ? " over TLS" : ""
  }. The protos are in <code>proto/</code>; reflection lets grpcurl work without them.
With <code>AUTH_TOKENS</code> set, the chat services need <code>authorization: Bearer &lt;token&gt;</code> metadata;
health and reflection stay open.</p>
<table><tr><th>service</th><th>what it does</th></tr>
<tr><td><code>chat.Chat/Ask</code></td><td>the original: <code>askrequest{prompt, conversation_id, parent_id}</code> → a stream of
<code>askresponse{response}</code>: reply pieces, then <code>&lt;|end|&gt;$&lt;conversation_id&gt;$&lt;parent_id&gt;</code>, or
<code>&lt;|err|&gt;$&lt;reason&gt;</code></td></tr>
<tr><td><code>easybackend.v1.Chat</code></td><td><code>Ask</code> streams typed events (<code>start</code>, <code>delta</code>, <code>done</code> with
<code>conversation_id</code> and <code>message_id</code>); <code>ListConversations</code>, <code>GetConversation</code>,
<code>GetMessages</code>, <code>RenameConversation</code>, <code>DeleteConversation</code>; failures are real status codes</td></tr>
<tr><td><code>grpc.health.v1.Health</code></td><td><code>SERVING</code>, then <code>NOT_SERVING</code> once shutdown begins</td></tr>
<tr><td><code>grpc.reflection.v1</code>, <code>v1alpha</code></td><td>server reflection</td></tr></table>
<pre><code>grpcurl ${flag}${target} list
grpcurl ${flag}-d '{"prompt": "hello"}' ${target} easybackend.v1.Chat/Ask
grpcurl ${flag}-d '{"prompt": "and then?", "conversation_id": "&lt;id&gt;", "parent_id": "&lt;message_id&gt;"}' \\
  ${target} easybackend.v1.Chat/Ask
grpcurl ${flag}-d '{"conversation_id": "&lt;id&gt;"}' ${target} easybackend.v1.Chat/GetConversation
grpcurl ${flag}-d '{"prompt": "hello", "conversation_id": "new"}' ${target} chat.Chat/Ask
grpcurl ${flag}-d '{"service": ""}' ${target} grpc.health.v1.Health/Check
# with AUTH_TOKENS: add  -H 'authorization: Bearer &lt;token&gt;'</code></pre>
</section>`;
}

/**
 * The HTML of the `/docs` page.
 * @param options the other listeners' configured ports and whether TLS is on
 */
export function docsPage(
  options: DocsPageOptions = { wsPort: 0, grpcPort: 0, tls: false },
): string {
  const config = JSON.stringify({ wsPort: options.wsPort, tls: options.tls });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>EasyBackend API</title><style>${STYLE}</style></head>
<body>
<header><h1 id="title">EasyBackend</h1><p id="intro" class="muted"></p>
<p><a href="#ask">/ask</a> · <a href="#http">HTTP routes</a> · <a href="#websocket">WebSocket</a> ·
<a href="#grpc">gRPC</a> · <a href="/openapi.json">openapi.json</a></p>
<label for="token">Bearer token (when the server has AUTH_TOKENS)</label>
<input id="token" type="password" autocomplete="off" placeholder="leave empty on an open server">
</header>
<main>
${ASK_SECTION}
<section id="http"><h2>HTTP routes</h2><div id="ops">Loading /openapi.json …</div></section>
${websocketSection(options)}
${grpcSection(options)}
</main>
<script type="application/json" id="eb-config">${config}</script>
<script>${DOCS_SCRIPT}</script>
</body></html>
`;
}
