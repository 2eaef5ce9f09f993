// Recording upload page and live job status (APIs: archive/api/upload.py). No inline JS (CSP).
// Hooks: <form data-recording-upload> (the upload page: the form creates the interview, then the file
// goes up in resumable chunks with a progress bar, then the job is followed), and any element with
// data-job-url (a job's status, polled until it ends: the interview page for staff).
// Messages are in the interface language: the page loads Django's JavaScript catalogue first (jsi18n/,
// archive/locale/*/LC_MESSAGES/djangojs.po); without it they stay in English.
(function () {
  "use strict";
  var gettext = window.gettext || function (text) { return text; };
  var interpolate = window.interpolate || function (text, values) {
    return text.replace(/%\((\w+)\)s/g, function (whole, name) { return values[name]; });
  };
  var STATES = { queued: gettext("Queued"), running: gettext("Running"), done: gettext("Done"), failed: gettext("Failed") };
  function percent(fraction) { return Math.round(fraction * 100) + "%"; }
  var CHUNK = 8 * 1024 * 1024;
  var HEAD_BYTES = 4 * 1024 * 1024; // services.recordings.HEAD_BYTES
  function csrf() {
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (field) return field.value;
    var m = document.cookie.match(/csrftoken=([^;]+)/);
    return m ? m[1] : "";
  }
  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }
  function fileKey(file) { return "rawi-upload:" + file.name + ":" + file.size + ":" + file.lastModified; }

  async function send(url, file, offset, bar, status) {
    var attempt = 0;
    while (offset < file.size) {
      try {
        var res = await fetch(url, { method: "PATCH", credentials: "same-origin",
          headers: { "Upload-Offset": String(offset), "Content-Type": "application/octet-stream", "X-CSRFToken": csrf() },
          body: file.slice(offset, offset + CHUNK) });
        var data = await res.json();
        if (res.status === 409 || res.ok) { offset = data.offset; attempt = 0; }
        else if (res.status >= 400 && res.status < 500) { status.textContent = data.detail || gettext("The upload was refused."); return null; }
        else throw new Error("server error");
        bar.value = offset / file.size;
        bar.textContent = Math.round(bar.value * 100) + "%";
        status.textContent = interpolate(gettext("Uploading… %(percent)s"), { percent: percent(bar.value) }, true);
        if (data.job) return data;
      } catch (err) {
        attempt += 1;
        status.textContent = interpolate(gettext("Connection lost; resuming… (attempt %(attempt)s)"), { attempt: attempt }, true);
        await sleep(Math.min(30000, 1000 * Math.pow(2, attempt)));
        var check = await fetch(url, { credentials: "same-origin" }).catch(function () { return null; });
        if (check && check.ok) offset = (await check.json()).offset;
      }
    }
    return null;
  }

  async function poll(jobUrl, show) {
    var failures = 0;
    for (;;) {
      var job = null;
      try {
        var res = await fetch(jobUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
        if (res.ok) { job = await res.json(); failures = 0; }
      } catch (err) { job = null; }
      if (job) {
        show(job);
        if (job.state === "done" || job.state === "failed") return job;
      } else if (++failures > 30) return null;
      await sleep(2000);
    }
  }

  function stateOf(job) {
    var state = STATES[job.state] || job.state;
    return job.reason ? interpolate(gettext("%(state)s: %(reason)s"), { state: state, reason: job.reason }, true) : state;
  }

  function describe(job) {
    if (job.state === "running" || job.state === "queued") {
      return interpolate(gettext("%(state)s (%(percent)s)"), { state: stateOf(job), percent: percent(job.progress) }, true);
    }
    return stateOf(job);
  }

  // The interview page: follow each running job.
  document.querySelectorAll("[data-job-url]").forEach(function (item) {
    var bar = item.querySelector("progress"), state = item.querySelector("[data-job-state]"),
      percent = item.querySelector("[data-job-percent]");
    poll(item.dataset.jobUrl, function (job) {
      if (bar) { bar.value = job.progress; bar.textContent = Math.round(job.progress * 100) + "%"; }
      if (percent) percent.textContent = Math.round(job.progress * 100) + "%";
      if (state) state.textContent = stateOf(job);
    }).then(function (job) {
      if (job && job.state === "done" && state) {
        state.textContent = interpolate(gettext("%(state)s — reload the page to see the transcript."), { state: stateOf(job) }, true);
      }
    });
  });

  // The upload page.
  document.querySelectorAll("form[data-recording-upload]").forEach(function (form) {
    var input = form.querySelector("input[type=file]");
    var bar = form.querySelector("[data-upload-progress]"), status = form.querySelector("[data-upload-status]");
    var done = form.querySelector("[data-upload-done]"), link = form.querySelector("[data-upload-link]");
    form.addEventListener("submit", async function (event) {
      var file = input && input.files[0];
      if (!file || !window.fetch) return; // no file: let the server say so; no fetch: plain multipart post
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      bar.hidden = false;
      var saved = null;
      try { saved = JSON.parse(localStorage.getItem(fileKey(file)) || "null"); } catch (err) { saved = null; }
      var uploadUrl = null, page = null, offset = 0;
      if (saved) {
        // The same file was being uploaded before the page was reloaded: resume it, do not create another interview.
        var check = await fetch(saved.url, { credentials: "same-origin" }).catch(function () { return null; });
        if (check && check.ok) { uploadUrl = saved.url; page = saved.page; offset = (await check.json()).offset; }
        else localStorage.removeItem(fileKey(file));
      }
      if (!uploadUrl) {
        var fields = new FormData(form);
        // The server checks the file's first bytes before it creates anything; the rest follows.
        fields.set("file", file.slice(0, HEAD_BYTES), file.name);
        fields.set("file_head", "1");
        var created = await fetch(window.location.pathname, { method: "POST", credentials: "same-origin",
          headers: { Accept: "application/json", "X-CSRFToken": csrf() }, body: fields });
        var made = await created.json().catch(function () { return {}; });
        if (!created.ok) {
          var errors = made.errors || {};
          status.textContent = Object.keys(errors).map(function (k) { return k + ": " + errors[k].join(" "); }).join(" ") || gettext("The interview could not be created.");
          button.disabled = false;
          return;
        }
        page = made.interview_url;
        var started = await fetch(made.upload_url, { method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
          body: JSON.stringify(Object.assign({ size: file.size, filename: file.name }, made.options)) });
        var upload = await started.json().catch(function () { return {}; });
        if (!started.ok) { status.textContent = upload.detail || gettext("The upload was refused."); return; }
        uploadUrl = "/api/v1/uploads/" + upload.upload + "/";
        localStorage.setItem(fileKey(file), JSON.stringify({ url: uploadUrl, page: page }));
      }
      link.href = page;
      status.textContent = gettext("Uploading…");
      var finished = await send(uploadUrl, file, offset, bar, status);
      if (!finished) return;
      localStorage.removeItem(fileKey(file));
      done.hidden = false;
      status.textContent = gettext("Uploaded; transcription queued.");
      bar.value = 0;
      await poll("/api/v1/jobs/" + finished.job + "/", function (job) {
        bar.value = job.progress;
        bar.textContent = Math.round(job.progress * 100) + "%";
        status.textContent = interpolate(gettext("Transcription: %(state)s"), { state: describe(job) }, true);
      });
    });
  });
})();
