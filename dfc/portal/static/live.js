// Live refresh of a transfer job page: counters, and per-link throughput plots.
"use strict";
(function () {
  const live = document.getElementById("live");
  if (!live || live.dataset.final === "true") { return; }
  const samples = {};
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  function size(n) {
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return i === 0 ? Math.round(n) + " B" : n.toFixed(1) + " " + units[i];
  }
  function set(id, text) {
    const el = document.getElementById(id);
    if (el) { el.textContent = String(text); }
  }
  function plot(row, values) {
    const line = row.querySelector("polyline");
    if (!line) { return; }
    const top = Math.max(1, ...values);
    const step = 240 / Math.max(1, values.length - 1);
    line.setAttribute("points", values.map(function (v, i) {
      return (i * step).toFixed(1) + "," + (38 - 36 * v / top).toFixed(1);
    }).join(" "));
  }
  async function tick() {
    let status;
    try {
      const response = await fetch(live.dataset.status, { credentials: "same-origin" });
      if (!response.ok) { return true; }
      status = await response.json();
    } catch (err) {
      return true;
    }
    set("state", status.state);
    document.getElementById("state").className = "state " + status.state.toLowerCase();
    set("finished", status.finished);
    set("files", status.files);
    set("active", status.active);
    set("failed", status.failed);
    set("bytes_done", size(status.bytes_done));
    set("rate", size(status.rate) + "/s");
    set("eta", status.eta === null ? "-" : Math.round(status.eta) + "s");
    const bar = document.getElementById("progress");
    bar.max = Math.max(1, status.files);
    bar.value = status.finished;
    for (const link of status.links) {
      const key = link.source + "→" + link.dest;
      (samples[key] = samples[key] || []).push(link.rate);
      if (samples[key].length > 60) { samples[key].shift(); }
      for (const row of document.querySelectorAll("#linkrows tr")) {
        if (row.dataset.link === key) { plot(row, samples[key]); }
      }
    }
    return !status.final;
  }
  async function loop() {
    if (await tick()) { setTimeout(loop, 2000); }
  }
  setTimeout(loop, 1000);
})();
