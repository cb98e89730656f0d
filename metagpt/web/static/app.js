// metagpt serve: the start form, the run buttons, and live updates over Server-Sent Events.
// Every text from the server is put in the page with textContent, never as HTML.
"use strict";

function el(tag, text, attrs) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  return node;
}

function money(value) {
  return "$" + Number(value || 0).toFixed(4);
}

async function post(url, body) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
    credentials: "same-origin",
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function startForm(form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = { idea: data.get("idea"), run_tests: data.get("run_tests") === "on" };
    if (data.get("investment")) body.investment = Number(data.get("investment"));
    if (data.get("n_round")) body.n_round = Number(data.get("n_round"));
    if (data.get("project_name")) body.project_name = data.get("project_name");
    try {
      const started = await post("/api/runs", body);
      window.location.assign("/projects/" + encodeURIComponent(started.project));
    } catch (error) {
      document.getElementById("start-error").textContent = error.message;
    }
  });
}

function when(seconds) {
  const d = new Date(seconds * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function projectPage(root) {
  const name = root.dataset.name;
  const base = "/api/projects/" + encodeURIComponent(name);
  const page = "/projects/" + encodeURIComponent(name);
  const $ = (id) => document.getElementById(id);
  const fail = (error) => { $("action-error").textContent = error.message; };
  const has = (list, attr, value) => Array.from(list.children).some((li) => li.getAttribute(attr) === String(value));

  function setStatus(info) {
    const status = $("status");
    status.textContent = info.status + (info.queued ? " (queued)" : "");
    status.className = "status status-" + info.status;
    root.dataset.status = info.status;
    if (info.spent !== undefined) {
      $("spent").textContent = money(info.spent);
      $("budget").value = info.spent;
    }
    if (info.investment) {
      $("investment").textContent = money(info.investment);
      $("budget").max = info.investment;
    }
    if (info.idea && !$("idea").textContent) $("idea").textContent = info.idea;
    if (info.stop_reason !== undefined) {
      $("reason").textContent = ["failed", "budget", "interrupted"].includes(info.status) ? info.stop_reason : "";
    }
    $("stop").disabled = info.status !== "running";
    for (const id of ["resume", "change"]) {
      for (const control of $(id).elements) control.disabled = info.status === "running";
    }
  }

  const handlers = {
    stage(data) {
      if (!has($("stages"), "data-call", data.call)) $("stages").append(el("li", `${data.role}: ${data.action}`, { "data-call": data.call }));
    },
    call(row) {
      if ($("calls").querySelector(`tr[data-id="${Number(row.id)}"]`)) return;
      const tr = el("tr", null, { "data-id": row.id });
      const action = (row.action || "-") + (row.target ? `[${row.target}]` : "");
      const ms = row.latency_ms === null || row.latency_ms === undefined ? "-" : Math.round(row.latency_ms);
      const status = row.status + (row.attempt > 1 ? ` (attempt ${row.attempt})` : "");
      const cells = [row.id, when(row.started_at), row.role || "-", action, row.model || "-",
        `${row.prompt_tokens || 0}/${row.completion_tokens || 0}`, money(row.cost), ms, status];
      for (const cell of cells) tr.append(el("td", cell));
      $("calls").append(tr);
    },
    commit(data) {
      if (has($("commits"), "data-sha", data.sha)) return;
      const li = el("li", null, { "data-sha": data.sha });
      li.append(el("a", data.sha.slice(0, 8), { href: `${page}/commits/${data.sha}` }), document.createTextNode(" " + data.subject));
      $("commits").prepend(li);
    },
    message(data) {
      const li = el("li", data.role + " ", { "data-sha": data.sha });
      li.append(el("span", "sent " + data.cause_by, { class: "cause" }));
      $("messages").append(li);
    },
    file(data) {
      const known = Array.from($("files").querySelectorAll("li[data-path]")).some((li) => li.dataset.path === data.path);
      if (!known) {
        const li = el("li", null, { "data-path": data.path });
        li.append(el("a", data.path, { href: `${page}/code/${data.path.split("/").map(encodeURIComponent).join("/")}` }));
        $("files").append(li);
      }
      if (data.path.startsWith("docs/") && data.path.endsWith(".md") && data.path.split("/").length === 2) {
        const links = Array.from($("documents").querySelectorAll("a")).map((a) => a.textContent);
        if (!links.includes(data.path)) {
          const li = el("li");
          li.append(el("a", data.path, { href: `${page}/docs/${encodeURIComponent(data.path.slice(5))}` }));
          $("documents").append(li);
        }
      }
    },
  };

  let source = null;
  function listen() {
    if (source) source.close();
    const cursor = root.dataset.cursor ? "?after=" + encodeURIComponent(root.dataset.cursor) : "";
    source = new EventSource(base + "/events" + cursor);
    for (const [kind, handle] of Object.entries(handlers)) {
      source.addEventListener(kind, (event) => {
        handle(JSON.parse(event.data));
        if (event.lastEventId) root.dataset.cursor = event.lastEventId;
      });
    }
    source.addEventListener("status", (event) => setStatus(JSON.parse(event.data)));
    source.addEventListener("done", (event) => {
      setStatus(JSON.parse(event.data));
      source.close();
      root.dataset.live = "done";
    });
    root.dataset.live = "open";
  }

  $("stop").addEventListener("click", () => post(base + "/stop", {}).catch(fail));
  $("resume").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = new FormData(event.target).get("investment");
    post(base + "/resume", value ? { investment: Number(value) } : {})
      .then(() => { setStatus({ status: "running" }); listen(); })
      .catch(fail);
  });
  $("change").addEventListener("submit", (event) => {
    event.preventDefault();
    post(base + "/changes", { request: new FormData(event.target).get("request") })
      .then(() => { setStatus({ status: "running" }); listen(); })
      .catch(fail);
  });
  setStatus({ status: root.dataset.status });
  listen();
}

// The projects page: while a run is running, its row follows it (a new project reloads the page).
function projectsPage(table) {
  const rows = () => new Map(Array.from(table.querySelectorAll("tr[data-name]")).map((tr) => [tr.dataset.name, tr]));
  async function refresh() {
    const response = await fetch("/api/projects", { credentials: "same-origin" });
    if (!response.ok) return;
    const listed = await response.json();
    const shown = rows();
    if (listed.some((p) => !shown.has(p.name))) {
      window.location.reload();
      return;
    }
    for (const p of listed) {
      const tr = shown.get(p.name);
      const status = tr.querySelector(".status");
      status.textContent = p.status + (p.queued ? " (queued)" : "");
      status.className = "status status-" + p.status;
      tr.querySelector(".spent").textContent = money(p.spent) + (p.investment ? " of " + money(p.investment) : "");
      tr.querySelector(".updated").textContent = p.updated_at ? when(p.updated_at) : "-";
    }
    if (listed.some((p) => p.status === "running")) window.setTimeout(refresh, 2000);
  }
  if (table.querySelector(".status-running")) window.setTimeout(refresh, 2000);
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("start");
  if (form) startForm(form);
  const table = document.getElementById("projects");
  if (table) projectsPage(table);
  const project = document.getElementById("project");
  if (project) projectPage(project);
});
