// The webhook receiver the browser tests expect, for running them by hand (the Rust
// harness starts its own): POST /hook answers 200, or 500 while failing;
// POST /control {"fail": bool} switches that; GET /received lists the arrivals;
// POST /reset forgets them. Usage: node e2e/receiver.mjs [port]
import { createServer } from "node:http";

const port = Number(process.argv[2] ?? 9104);
let fail = false;
let arrivals = [];

function json(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

createServer((req, res) => {
  let text = "";
  req.on("data", (chunk) => (text += chunk));
  req.on("end", () => {
    const url = new URL(req.url ?? "/", "http://receiver");
    if (req.method === "POST" && url.pathname === "/hook") {
      let body;
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
      const status = fail ? 500 : 200;
      arrivals.push({
        webhook_id: String(req.headers["webhook-id"] ?? ""),
        headers: req.headers,
        body,
        status,
        received_at: new Date().toISOString(),
      });
      res.writeHead(status);
      res.end();
    } else if (req.method === "POST" && url.pathname === "/control") {
      try {
        const body = JSON.parse(text || "{}");
        if (typeof body.fail === "boolean") fail = body.fail;
      } catch {
        return json(res, 400, { error: "JSON expected" });
      }
      json(res, 200, { fail });
    } else if (req.method === "GET" && url.pathname === "/received") {
      json(res, 200, arrivals);
    } else if (req.method === "POST" && url.pathname === "/reset") {
      arrivals = [];
      res.writeHead(204);
      res.end();
    } else {
      json(res, 404, { error: "not found" });
    }
  });
}).listen(port, "127.0.0.1", () =>
  console.log(`receiver on http://127.0.0.1:${port}`),
);
