/**
 * The `GET /docs` page: one self-contained HTML file (inline CSS and JS, no
 * CDN) that renders `/openapi.json`, has a live streaming form for `/ask`, a
 * small "try it" form for every other call, and a token field.
 * @module
 */

const STYLE = `
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header,main{max-width:960px;margin:0 auto;padding:1rem}
header{border-bottom:1px solid #ddd}
h1{margin:.2rem 0}h2{margin-top:2rem;border-bottom:1px solid #eee}
label{display:block;margin:.4rem 0 .1rem;font-weight:600;font-size:.9em}
input,textarea,select{width:100%;box-sizing:border-box;font:inherit;padding:.35rem;border:1px solid #bbb;border-radius:4px}
textarea{min-height:4.5rem;font-family:ui-monospace,monospace}
button{font:inherit;padding:.35rem .9rem;margin:.5rem .4rem 0 0;border:0;border-radius:4px;background:#0b63ce;color:#fff;cursor:pointer}
button.secondary{background:#666}
pre{background:#111;color:#eee;padding:.7rem;border-radius:4px;overflow:auto;white-space:pre-wrap;min-height:1.5rem}
details{background:#fff;border:1px solid #ddd;border-radius:6px;margin:.5rem 0;padding:.4rem .8rem}
summary{cursor:pointer}.m{display:inline-block;min-width:4.5rem;font-weight:700;font-family:ui-monospace,monospace}
.row{display:flex;gap:.8rem}.row>div{flex:1}.muted{color:#666}
`;

const SCRIPT = `
const $ = (s) => document.querySelector(s);
const el = (tag, props = {}, ...kids) => {
  const e = Object.assign(document.createElement(tag), props);
  for (const k of kids) e.append(k);
  return e;
};
const tokenInput = $("#token");
tokenInput.value = localStorage.getItem("eb-token") || "";
tokenInput.addEventListener("change", () => localStorage.setItem("eb-token", tokenInput.value));
function headers(extra = {}) {
  const h = { ...extra };
  if (tokenInput.value) h.authorization = "Bearer " + tokenInput.value;
  return h;
}

// The /ask form: the answer is shown live as SSE deltas arrive.
let controller = null;
$("#ask-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const out = $("#ask-out"), meta = $("#ask-meta");
  out.textContent = ""; meta.textContent = "";
  const cid = $("#cid").value.trim() || "new";
  const body = { prompt: $("#prompt").value, parent_id: $("#pid").value.trim() || null,
    stream: $("#stream").checked };
  if ($("#model").value.trim()) body.model = $("#model").value.trim();
  controller = new AbortController();
  try {
    const res = await fetch("/ask/" + encodeURIComponent(cid), { method: "POST",
      headers: headers({ "content-type": "application/json" }), body: JSON.stringify(body),
      signal: controller.signal });
    if (!res.ok || !body.stream) {
      const data = await res.json();
      meta.textContent = res.status + " " + JSON.stringify(data, null, 2);
      if (data.message !== undefined) out.textContent = data.message;
      if (data.parent_id) { $("#cid").value = data.conversation_id; $("#pid").value = data.parent_id; }
      return;
    }
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += value.replace(/\\r\\n?/g, "\\n");
      let i;
      while ((i = buf.indexOf("\\n\\n")) >= 0) {
        const block = buf.slice(0, i); buf = buf.slice(i + 2);
        let event = "message", data = "";
        for (const line of block.split("\\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data += line.slice(5).replace(/^ /, "");
        }
        if (!data) continue;
        const obj = JSON.parse(data);
        if (event === "delta") out.textContent += obj.text;
        else if (event === "done") {
          meta.textContent = "done " + JSON.stringify(obj, null, 2);
          $("#cid").value = obj.conversation_id; $("#pid").value = obj.parent_id;
        } else if (event === "error") meta.textContent = "error " + JSON.stringify(obj, null, 2);
      }
    }
  } catch (err) {
    meta.textContent = String(err);
  } finally { controller = null; }
});
$("#ask-stop").addEventListener("click", () => controller && controller.abort());
$("#ask-reset").addEventListener("click", () => { $("#cid").value = "new"; $("#pid").value = ""; });

// Every operation of the document, each with a small "try it" form.
function tryForm(path, method, op, pathParams) {
  const params = [...(pathParams || []), ...(op.parameters || [])];
  const inputs = {};
  const form = el("form");
  for (const p of params) {
    inputs[p.name] = el("input", { placeholder: p.in + (p.required ? ", required" : "") });
    form.append(el("label", { textContent: p.name }), inputs[p.name]);
  }
  let bodyInput = null;
  if (op.requestBody) {
    bodyInput = el("textarea", { value: path.startsWith("/ask")
      ? '{"prompt": "Hello", "parent_id": null}' : path.startsWith("/conversations")
      ? '{"title": "A new title"}' : "{}" });
    form.append(el("label", { textContent: "JSON body" }), bodyInput);
  }
  const out = el("pre");
  form.append(el("button", { textContent: "Send" }), out);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    let url = path;
    const query = new URLSearchParams();
    for (const p of params) {
      const v = inputs[p.name].value.trim();
      if (p.in === "path") url = url.replace("{" + p.name + "}", encodeURIComponent(v));
      else if (v) query.set(p.name, v);
    }
    if ([...query].length) url += "?" + query;
    out.textContent = "…";
    try {
      const res = await fetch(url, { method: method.toUpperCase(),
        headers: headers(bodyInput ? { "content-type": "application/json" } : {}),
        body: bodyInput ? bodyInput.value : undefined });
      out.textContent = res.status + " " + res.statusText + "\\n\\n" + await res.text();
    } catch (err) { out.textContent = String(err); }
  });
  return form;
}
async function render() {
  const doc = await (await fetch("/openapi.json")).json();
  $("#title").textContent = doc.info.title + " " + doc.info.version;
  $("#intro").textContent = doc.info.description;
  const list = $("#ops");
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of ["get", "post", "patch", "delete"]) {
      const op = item[method];
      if (!op) continue;
      const d = el("details", {}, el("summary", {},
        el("span", { className: "m", textContent: method.toUpperCase() }), path + "  ",
        el("span", { className: "muted", textContent: op.summary || "" })));
      if (op.description) d.append(el("p", { textContent: op.description }));
      d.append(tryForm(path, method, op, item.parameters));
      list.append(d);
    }
  }
}
render().catch((err) => { $("#ops").textContent = "Cannot load /openapi.json: " + err; });
`;

/** The HTML of the `/docs` page. */
export function docsPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>EasyBackend API</title><style>${STYLE}</style></head>
<body>
<header><h1 id="title">EasyBackend</h1><p id="intro" class="muted"></p>
<label for="token">Bearer token (when the server has AUTH_TOKENS)</label>
<input id="token" type="password" autocomplete="off" placeholder="leave empty on an open server">
</header>
<main>
<section id="ask"><h2>Try /ask</h2>
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
</section>
<section id="http"><h2>HTTP routes</h2><div id="ops">Loading /openapi.json …</div></section>
<section id="other-protocols"><h2>Other protocols</h2>
<h3 id="websocket">WebSocket</h3>
<p>The WebSocket listener (WS_PORT) speaks the original <code>&lt;|ask|&gt;$…</code> frames and JSON frames; see the README.</p>
<h3 id="grpc">gRPC</h3>
<p>The gRPC listener (GRPC_PORT) serves the original <code>chat.Chat/Ask</code> and <code>easybackend.v1</code>, with reflection; see the README.</p>
</section>
</main>
<script>${SCRIPT}</script>
</body></html>
`;
}
