/**
 * The browser script of the `/docs` page (plain JavaScript, inlined by
 * `docs_page.ts`): the bearer token field, the streaming `/ask` form, one
 * "try it" form per OpenAPI operation, and a WebSocket console that speaks
 * either protocol to the WS listener, whose port differs from the page's.
 * @module
 */

const COMMON = `
const $ = (s) => document.querySelector(s);
const el = (tag, props = {}, ...kids) => {
  const e = Object.assign(document.createElement(tag), props);
  for (const k of kids) e.append(k);
  return e;
};
const cfg = JSON.parse($("#eb-config").textContent);
const tokenInput = $("#token");
tokenInput.value = localStorage.getItem("eb-token") || "";
tokenInput.addEventListener("change", () => localStorage.setItem("eb-token", tokenInput.value));
// Examples name the host this page came from, so they can be copied as they are.
for (const h of document.querySelectorAll(".host")) h.textContent = location.hostname;
function headers(extra = {}) {
  const h = { ...extra };
  if (tokenInput.value) h.authorization = "Bearer " + tokenInput.value;
  return h;
}
`;

const ASK = `
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
`;

const OPERATIONS = `
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
  list.textContent = "";
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

const WEBSOCKET = `
// The WebSocket console. The page came from the HTTP listener; the WS listener
// has its own port (WS_PORT), so its URL is prefilled from the server's
// configuration and stays editable (a proxy may serve it elsewhere).
const wsUrl = $("#ws-url"), wsOut = $("#ws-out"), wsLog = $("#ws-log"), wsState = $("#ws-state");
if (cfg.wsPort) {
  wsUrl.value = (cfg.tls ? "wss://" : "ws://") + location.hostname + ":" + cfg.wsPort + "/";
}
let socket = null, socketUrl = "", askSeq = 0, current = null;
function logFrame(dir, text) {
  const lines = (wsLog.textContent + dir + " " + text + "\\n").split("\\n");
  wsLog.textContent = lines.slice(-60).join("\\n");
  wsLog.scrollTop = wsLog.scrollHeight;
}
function targetUrl() {
  const u = new URL(wsUrl.value.trim());
  if (tokenInput.value) u.searchParams.set("token", tokenInput.value);
  return u.toString();
}
function openSocket() {
  const url = targetUrl();
  if (socket && socket.readyState <= WebSocket.OPEN && socketUrl === url) return Promise.resolve(socket);
  if (socket) socket.close();
  socketUrl = url;
  const s = socket = new WebSocket(url);
  wsState.textContent = "connecting…";
  s.onmessage = (ev) => onFrame(String(ev.data));
  s.onclose = (ev) => {
    wsState.textContent = "closed (" + ev.code + (ev.reason ? " " + ev.reason : "") + ")";
    if (socket === s) { socket = null; current = null; }
  };
  return new Promise((resolve, reject) => {
    s.onopen = () => { wsState.textContent = "open"; resolve(s); };
    s.onerror = () => reject(new Error("Cannot open " + wsUrl.value + ": is WS_PORT reachable?"));
  });
}
function setIds(cid, pid) { $("#ws-cid").value = cid; $("#ws-pid").value = pid; }
function onFrame(text) {
  logFrame("←", text);
  if (current !== "legacy" && text.startsWith("{")) {
    const f = JSON.parse(text);
    if (f.id !== current) return;
    if (f.type === "delta") wsOut.textContent += f.text;
    else if (f.type === "done") { setIds(f.conversation_id, f.parent_id); current = null; }
    else if (f.type === "error") { wsOut.textContent += "\\n[" + f.code + "] " + f.message; current = null; }
    return;
  }
  if (text.startsWith("<|end|>$")) {
    const [, cid, pid] = text.split("$");
    setIds(cid, pid); current = null;
  } else if (text.startsWith("<|err|>$")) {
    wsOut.textContent += "\\n" + text; current = null;
  } else wsOut.textContent += text;
}
$("#ws-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  wsOut.textContent = "";
  let s;
  try { s = await openSocket(); } catch (err) { wsState.textContent = String(err.message || err); return; }
  const cid = $("#ws-cid").value.trim() || "new", pid = $("#ws-pid").value.trim();
  const prompt = $("#ws-prompt").value;
  let frame;
  if ($("#ws-mode").value === "json") {
    current = "a" + (++askSeq);
    frame = JSON.stringify({ type: "ask", id: current, prompt, conversation_id: cid,
      parent_id: pid || null });
  } else {
    current = "legacy";
    frame = "<|ask|>$" + cid + "$" + (pid || "new") + "$" + prompt;
  }
  logFrame("→", frame);
  s.send(frame);
});
$("#ws-cancel").addEventListener("click", () => {
  if (!socket || !current) return;
  if (current === "legacy") { socket.close(); return; }
  const frame = JSON.stringify({ type: "cancel", id: current });
  logFrame("→", frame);
  socket.send(frame);
});
$("#ws-reset").addEventListener("click", () => setIds("new", ""));
`;

/** The page's whole script; it reads the `#eb-config` JSON the server writes into the page. */
export const DOCS_SCRIPT = COMMON + ASK + OPERATIONS + WEBSOCKET;
