// One browser for a whole run: mermaid-cli's renderMermaid() driven over stdin/stdout.
//
// Usage: node mermaid_worker.mjs <node_modules folder> <puppeteer launch-options JSON file>
// Reads one JSON request per line: {"id": 1, "code": "...", "format": "svg" | "png" | "pdf"}.
// Writes one JSON line per request: {"id": 1, "data": "<base64>"} or {"id": 1, "error": "..."},
// after a first {"ready": "<mermaid-cli version>"} line once the browser is up.
import { readFileSync } from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { pathToFileURL } from "node:url";

const [nodeModules, launchOptionsFile] = process.argv.slice(2);

function entryPoint(name) {
  const folder = path.join(nodeModules, name);
  const manifest = JSON.parse(readFileSync(path.join(folder, "package.json"), "utf8"));
  const exported = manifest.exports?.["."];
  const relative =
    (typeof exported === "string" ? exported : exported?.import ?? exported?.default) ?? manifest.main ?? "index.js";
  return { url: pathToFileURL(path.join(folder, relative)).href, version: manifest.version };
}

function send(message) {
  process.stdout.write(JSON.stringify(message) + "\n");
}

function firstLines(error) {
  const text = String(error?.message ?? error);
  const frame = /^\s*(at\s|\S+ \(\S+:\d+:\d+\)$)/; // stack frames, in V8's or the page's form
  return text.split("\n").filter((line) => !frame.test(line)).join("\n").trim();
}

const cli = entryPoint("@mermaid-js/mermaid-cli");
const { renderMermaid } = await import(cli.url);
const { default: puppeteer } = await import(entryPoint("puppeteer").url);
const browser = await puppeteer.launch(JSON.parse(readFileSync(launchOptionsFile, "utf8")));
browser.on("disconnected", () => process.exit(3));
send({ ready: cli.version });

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  const { id, code, format } = JSON.parse(line);
  try {
    const { data } = await renderMermaid(browser, code, format, {
      backgroundColor: "white",
      viewport: { width: 1200, height: 800, deviceScaleFactor: 2 },
      mermaidConfig: { securityLevel: "strict" },
    });
    send({ id, data: Buffer.from(data).toString("base64") });
  } catch (error) {
    send({ id, error: firstLines(error) });
  }
});
lines.on("close", async () => {
  await browser.close();
  process.exit(0);
});
