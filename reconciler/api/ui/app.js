// The reconciler web UI: a small hash-routed page over the agent's HTTP API (/v1/*).
// No build step and no framework: every view fetches what it shows and renders it.
"use strict";

const main = document.getElementById("main");

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "onclick") el.addEventListener("click", v);
    else if (v !== undefined && v !== null) el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// ACLs: the token the user gave is kept in localStorage and sent as X-Nomad-Token (a
// custom header, so no other origin can send it without a preflight the agent refuses).
// A 403 is an AclError: the page then asks for a token instead of showing the view.
const TOKEN_KEY = "reconciler.acl.token";
const storedToken = () => localStorage.getItem(TOKEN_KEY) || "";

class AclError extends Error {}

async function api(method, path, body) {
  const headers = body === undefined ? {} : { "Content-Type": "application/json" };
  if (storedToken()) headers["X-Nomad-Token"] = storedToken();
  const resp = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { error: text.trim() }; }
  const message = (data && data.error) || resp.statusText;
  if (resp.status === 403) throw new AclError(message || "Permission denied");
  if (!resp.ok) throw new Error(message);
  return data;
}

// The token prompt (Nomad's UI has it under "ACL Tokens"): shown when a call answers 403,
// and at #/token.
function tokenView(reason) {
  const input = h("input", { type: "password", id: "acl-token", autocomplete: "off",
    placeholder: "Secret ID", "aria-label": "ACL token secret ID" });
  input.value = storedToken();
  const toJobs = () => (location.hash === "#/jobs" ? route() : (location.hash = "#/jobs"));
  const setBtn = h("button", { class: "button primary", id: "set-token", onclick: () => {
    localStorage.setItem(TOKEN_KEY, input.value.trim());
    toJobs();
  } }, "Set Token");
  const clearBtn = h("button", { class: "button", id: "clear-token", onclick: () => {
    localStorage.removeItem(TOKEN_KEY);
    toJobs();
  } }, "Clear Token");
  const why = storedToken() ? "the token set here may not do this" : "this agent needs an ACL token";
  show(h("h1", {}, "ACL Token"),
    ...(reason ? [h("p", { class: "error", role: "alert", id: "acl-reason" }, `${reason}: ${why}.`)] : []),
    h("p", { class: "muted" }, "Paste the Secret ID of a token (from reconciler acl bootstrap or acl token create)."),
    input, h("div", { class: "actions" }, setBtn, clearBtn));
}

const short = (id) => (id || "").slice(0, 8);
const badge = (s) => h("span", { class: `badge ${s}` }, s);
const when = (ns) => (ns ? new Date(ns / 1e6).toLocaleString() : "");
const table = (head, rows, testid) =>
  h("table", { "data-testid": testid },
    h("thead", {}, h("tr", {}, head.map((c) => h("th", {}, c)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))));
const kv = (pairs) => h("dl", { class: "kv" }, pairs.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));

function show(...nodes) {
  main.replaceChildren(...nodes);
}

function failed(err) {
  show(h("p", { class: "error", role: "alert" }, String(err.message || err)));
}

async function jobsView() {
  const jobs = await api("GET", "/v1/jobs");
  const rows = jobs.map((j) => [
    h("a", { href: `#/job/${encodeURIComponent(j.ID)}` }, j.ID), j.Type, j.Priority, badge(j.Status), when(j.SubmitTime),
  ]);
  show(h("h1", {}, "Jobs"),
    rows.length ? table(["ID", "Type", "Priority", "Status", "Submit Date"], rows, "jobs")
      : h("p", { class: "muted" }, "No jobs yet. ", h("a", { href: "#/run" }, "Run one.")));
}

// The job's latest deployment: status, description, the per-group table (Nomad's columns)
// and "Promote Canary" while canaries wait for a person to promote them.
function deploymentSection(dep) {
  if (!dep) return [];
  const groups = Object.entries(dep.TaskGroups || {});
  const canaries = groups.some(([, g]) => g.DesiredCanaries > 0);
  const head = ["Task Group", ...(canaries ? ["Promoted"] : []), "Desired", ...(canaries ? ["Canaries"] : []),
    "Placed", "Healthy", "Unhealthy", "Progress Deadline"];
  const rows = groups.map(([name, g]) => [name, ...(canaries ? [String(g.Promoted)] : []), g.DesiredTotal,
    ...(canaries ? [g.DesiredCanaries] : []), g.PlacedAllocs, g.HealthyAllocs, g.UnhealthyAllocs,
    g.RequireProgressBy && !g.RequireProgressBy.startsWith("0001-") ? new Date(g.RequireProgressBy).toLocaleString() : ""]);
  const waiting = dep.Status === "running" && groups.some(([, g]) => g.DesiredCanaries > 0 && !g.Promoted);
  const promote = h("button", { class: "button primary", id: "promote-canary", onclick: async (ev) => {
    ev.target.setAttribute("disabled", "");
    try {
      await api("POST", `/v1/deployment/promote/${dep.ID}`, { DeploymentID: dep.ID, All: true });
      route();
    } catch (err) {
      ev.target.replaceWith(h("p", { class: "error", role: "alert" }, err.message));
    }
  } }, "Promote Canary");
  return [
    h("h2", {}, "Deployment"),
    h("div", { "data-testid": "deployment" },
      kv([["ID", short(dep.ID)], ["Version", dep.JobVersion], ["Status", badge(dep.Status)],
          ["Description", dep.StatusDescription]]),
      waiting ? h("div", { class: "actions" }, promote) : null,
      table(head, rows, "deployment-groups")),
  ];
}

async function jobView(id) {
  const enc = encodeURIComponent(id);
  const [job, allocs, summary, deployment] = await Promise.all([
    api("GET", `/v1/job/${enc}`),
    api("GET", `/v1/job/${enc}/allocations`).catch(() => []),
    api("GET", `/v1/job/${enc}/summary`).catch(() => null),
    api("GET", `/v1/job/${enc}/deployment`).catch(() => null),
  ]);
  // a refresh still loading when the user navigated away must not paint over the new view
  if (!location.hash.startsWith("#/job/")) return;
  const groups = summary ? Object.entries(summary.Summary || {}) : [];
  const stop = h("button", { class: "button danger", onclick: async () => {
    if (!confirm(`Stop job ${id}?`)) return;
    await api("DELETE", `/v1/job/${enc}`);
    route();
  } }, "Stop Job");
  show(
    h("h1", {}, job.ID, badge(job.Status)),
    kv([["Type", job.Type], ["Priority", job.Priority], ["Version", job.Version],
        ["Datacenters", (job.Datacenters || []).join(", ")], ["Submitted", when(job.SubmitTime)]]),
    h("div", { class: "actions" }, job.Stop ? null : stop,
      h("a", { class: "button", href: `#/run?job=${enc}` }, "Edit & Plan")),
    ...deploymentSection(deployment),
    h("h2", {}, "Task Groups"),
    table(["Task Group", "Queued", "Starting", "Running", "Failed", "Complete", "Lost"],
      groups.map(([g, s]) => [g, s.Queued, s.Starting, s.Running, s.Failed, s.Complete, s.Lost]), "summary"),
    h("h2", {}, "Allocations"),
    table(["ID", "Node", "Task Group", "Version", "Desired", "Status", "Created"],
      allocs.map((a) => [h("a", { href: `#/allocation/${a.ID}` }, short(a.ID)), short(a.NodeID), a.TaskGroup,
        a.DeploymentStatus && a.DeploymentStatus.Canary ? `${a.JobVersion} (canary)` : a.JobVersion,
        a.DesiredStatus, badge(a.ClientStatus), when(a.CreateTime)]), "allocations"),
  );
}

async function allocView(id) {
  const a = await api("GET", `/v1/allocation/${encodeURIComponent(id)}`);
  const tasks = Object.entries(a.TaskStates || {});
  show(
    h("h1", {}, `Allocation ${short(a.ID)}`, badge(a.ClientStatus)),
    kv([["Name", a.Name], ["Job", h("a", { href: `#/job/${encodeURIComponent(a.JobID)}` }, a.JobID)],
        ["Node", short(a.NodeID)], ["Desired", a.DesiredStatus], ["Version", a.JobVersion]]),
    ...tasks.flatMap(([name, st]) => [
      h("h2", {}, `Task "${name}" is "${st.State}"`),
      table(["Time", "Type", "Description"],
        (st.Events || []).slice().reverse().map((e) => [when(e.Time), e.Type, e.DisplayMessage || e.Message || ""]),
        `events-${name}`),
    ]),
  );
}

async function nodesView() {
  const nodes = await api("GET", "/v1/nodes");
  show(h("h1", {}, "Clients"),
    table(["ID", "Name", "Datacenter", "Address", "Eligibility", "Status"],
      nodes.map((n) => [short(n.ID), n.Name, n.Datacenter, n.Address, n.SchedulingEligibility, badge(n.Status)]),
      "nodes"));
}

async function runView(params) {
  const editor = h("textarea", { id: "job-editor", spellcheck: "false", "aria-label": "Job definition",
    placeholder: 'Paste a job in HCL or JSON, e.g.\n\njob "example" {\n  ...\n}' });
  const output = h("div", { id: "plan-output" });
  const runBtn = h("button", { class: "button primary", id: "run", disabled: "" }, "Run");
  let planned = null;
  editor.addEventListener("input", () => { planned = null; runBtn.setAttribute("disabled", ""); });
  const planBtn = h("button", { class: "button", id: "plan", onclick: async () => {
    output.replaceChildren(h("p", { class: "muted" }, "Planning…"));
    try {
      const res = await api("POST", "/ui/plan", { JobHCL: editor.value });
      planned = res.Job;
      output.replaceChildren(h("h2", {}, "Plan"), h("pre", { "data-testid": "plan-text" }, res.Text));
      runBtn.removeAttribute("disabled");
    } catch (err) {
      planned = null;
      output.replaceChildren(h("p", { class: "error", role: "alert" }, err.message));
    }
  } }, "Plan");
  runBtn.addEventListener("click", async () => {
    if (!planned) return;
    try {
      await api("POST", "/v1/jobs", { Job: planned });
      location.hash = `#/job/${encodeURIComponent(planned.ID)}`;
    } catch (err) {
      output.replaceChildren(h("p", { class: "error", role: "alert" }, err.message));
    }
  });
  if (params.get("job")) {
    const job = await api("GET", `/v1/job/${encodeURIComponent(params.get("job"))}`);
    editor.value = JSON.stringify({ Job: job }, null, 2);
  }
  show(h("h1", {}, "Run Job"),
    h("p", { class: "muted" }, "Paste a job specification (HCL or JSON), Plan to see what the scheduler would do, then Run."),
    editor, h("div", { class: "actions" }, planBtn, runBtn), output);
}

// Views other than the editor refresh themselves, as Nomad's UI follows live state.
const REFRESH_MS = 1500;
let refreshTimer = null;

async function route() {
  clearTimeout(refreshTimer);
  const [path, query] = (location.hash.slice(1) || "/jobs").split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  document.querySelectorAll("[data-nav]").forEach((a) => a.classList.toggle("active", a.dataset.nav === parts[0]));
  try {
    if (parts[0] === "job" && parts[1]) await jobView(parts[1]);
    else if (parts[0] === "allocation" && parts[1]) await allocView(parts[1]);
    else if (parts[0] === "nodes") await nodesView();
    else if (parts[0] === "run") await runView(params);
    else if (parts[0] === "token") return tokenView("");
    else await jobsView();
  } catch (err) {
    if (err instanceof AclError) return tokenView(err.message);  // no refresh under the prompt
    failed(err);
  }
  if (parts[0] !== "run") refreshTimer = setTimeout(route, REFRESH_MS);
}

window.addEventListener("hashchange", route);
route();
