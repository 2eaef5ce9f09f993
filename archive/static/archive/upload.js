// Resumable recording upload with a progress bar (API: archive/api/upload.py). No inline JS (CSP).
// Hook: <form data-upload-url="/api/v1/interviews/<id>/uploads/"> with <input type=file>, <progress>, [data-upload-status].
(function () {
  "use strict";
  var CHUNK = 8 * 1024 * 1024;
  function csrf() { var m = document.cookie.match(/csrftoken=([^;]+)/); return m ? m[1] : ""; }
  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }
  async function send(url, file, offset, bar, status) {
    var attempt = 0;
    while (offset < file.size) {
      try {
        var res = await fetch(url, { method: "PATCH", credentials: "same-origin",
          headers: { "Upload-Offset": String(offset), "Content-Type": "application/octet-stream", "X-CSRFToken": csrf() },
          body: file.slice(offset, offset + CHUNK) });
        var data = await res.json();
        if (res.status === 409 || res.ok) { offset = data.offset; attempt = 0; }
        else throw new Error(data.detail || "upload failed");
        bar.value = offset / file.size;
        if (data.job) return data;
      } catch (err) {
        attempt += 1;
        status.textContent = "Connection lost; resuming… (" + attempt + ")";
        await sleep(Math.min(30000, 1000 * Math.pow(2, attempt)));
        var check = await fetch(url, { credentials: "same-origin" }).catch(function () { return null; });
        if (check && check.ok) offset = (await check.json()).offset;
      }
    }
  }
  async function poll(jobUrl, bar, status) {
    for (;;) {
      var res = await fetch(jobUrl, { credentials: "same-origin" });
      var job = await res.json();
      bar.value = job.progress;
      status.textContent = job.state + (job.reason ? ": " + job.reason : "") + " (" + Math.round(job.progress * 100) + "%)";
      if (job.state === "done" || job.state === "failed") return job;
      await sleep(2000);
    }
  }
  document.querySelectorAll("form[data-upload-url]").forEach(function (form) {
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      var file = form.querySelector("input[type=file]").files[0];
      var bar = form.querySelector("progress"), status = form.querySelector("[data-upload-status]");
      if (!file) return;
      var created = await fetch(form.dataset.uploadUrl, { method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
        body: JSON.stringify({ size: file.size, filename: file.name }) });
      var upload = await created.json();
      if (!created.ok) { status.textContent = upload.detail || "Upload refused."; return; }
      var url = "/api/v1/uploads/" + upload.upload + "/";
      status.textContent = "Uploading…";
      var done = await send(url, file, 0, bar, status);
      status.textContent = "Uploaded; transcription queued.";
      await poll("/api/v1/jobs/" + done.job + "/", bar, status);
    });
  });
})();
