// Live refresh of a transfer job page: counters, and per-link throughput and success plots.
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
  function plot(row, series, values, fixedTop) {
    const line = row.querySelector('svg[data-series="' + series + '"] polyline');
    if (!line) { return; }
    const top = fixedTop || Math.max(1, ...values);
    const step = 240 / Math.max(1, values.length - 1);
    line.setAttribute("points", values.map(function (v, i) {
      return (i * step).toFixed(1) + "," + (38 - 36 * v / top).toFixed(1);
    }).join(" "));
  }
  // A link seen for the first time (a source chosen after the page loaded) gets a row.
  function addRow(key, link) {
    const row = document.createElement("tr");
    row.dataset.link = key;
    const cells = [link.source || "-", link.dest, "", "", ""];
    cells.forEach(function (text, i) {
      const td = document.createElement("td");
      td.textContent = text;
      if (i >= 2) { td.className = i === 4 ? "num success" : "num"; }
      row.appendChild(td);
    });
    for (const series of ["rate", "success"]) {
      const td = document.createElement("td");
      const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      svg.setAttribute("class", "plot");
      svg.setAttribute("width", "240");
      svg.setAttribute("height", "40");
      svg.setAttribute("role", "img");
      svg.setAttribute("aria-label", series === "rate" ? "throughput" : "success rate");
      svg.dataset.series = series;
      svg.appendChild(document.createElementNS("http://www.w3.org/2000/svg", "polyline"));
      td.appendChild(svg);
      row.appendChild(td);
    }
    document.getElementById("linkrows").appendChild(row);
    return row;
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
      const done = link.finished + link.failed;
      const series = samples[key] = samples[key] || { rate: [], success: [] };
      series.rate.push(link.rate);
      series.success.push(done ? 100 * link.finished / done : 100);
      if (series.rate.length > 60) { series.rate.shift(); series.success.shift(); }
      const rows = Array.from(document.querySelectorAll("#linkrows tr"));
      if (!rows.some(function (row) { return row.dataset.link === key; })) {
        rows.push(addRow(key, link));
      }
      for (const row of rows) {
        if (row.dataset.link !== key) { continue; }
        plot(row, "rate", series.rate, 0);
        plot(row, "success", series.success, 100);
        const counts = row.querySelectorAll("td.num");
        if (counts.length >= 2) {
          counts[0].textContent = String(link.finished);
          counts[1].textContent = String(link.failed);
        }
        const cell = row.querySelector("td.success");
        if (cell && done) { cell.textContent = Math.round(100 * link.finished / done) + "%"; }
      }
    }
    return !status.final;
  }
  async function loop() {
    if (await tick()) {
      setTimeout(loop, 2000);
    } else {
      // Final: load the page once more for the files' final states and attempts.
      setTimeout(function () { window.location.reload(); }, 1500);
    }
  }
  setTimeout(loop, 1000);
})();
