// The play page: polls /api/state, shows the model's own prompts, builds an offer with its points,
// and posts the same reply JSON a model writes. Every string from the scenario is set as text only.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs, text) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  let shown = null; // the observation on screen (by game, turn and attempt)
  let answered = null; // the last observation answered: a poll that still returns it is stale
  const keyOf = (obs) => obs.game + ":" + obs.turn + ":" + obs.attempt;

  function points(obs) {
    let total = 0;
    obs.issues.forEach((issue, i) => {
      const sel = $("issue-" + i);
      if (sel) total += issue.points[sel.selectedIndex];
    });
    $("offer-points").textContent = total.toFixed(1).replace(/\.0$/, "");
  }

  function showObservation(obs) {
    const key = keyOf(obs);
    if (shown === key) return;
    shown = key;
    $("game-title").textContent = "Game " + obs.game + ": " + obs.title + " (" + obs.scenario + "); you are the " + obs.role;
    $("system-prompt").textContent = obs.system_prompt;
    $("turn-prompt").textContent = obs.turn_prompt;
    $("feedback").hidden = !obs.feedback;
    $("feedback").textContent = obs.feedback ? "Your last reply was rejected: " + obs.feedback : "";
    const body = $("builder").tBodies[0];
    body.textContent = "";
    obs.issues.forEach((issue, i) => {
      const tr = el("tr");
      tr.appendChild(el("td", { class: "name" }, issue.name));
      const td = el("td", { class: "name" });
      const sel = el("select", { id: "issue-" + i, "data-issue": issue.name });
      issue.options.forEach((opt, j) => sel.appendChild(el("option", { value: opt }, opt + "  (" + issue.points[j] + " points)")));
      if (obs.standing_offer && obs.standing_offer[issue.name] !== undefined) sel.value = obs.standing_offer[issue.name];
      sel.addEventListener("change", () => points(obs));
      td.appendChild(sel);
      tr.appendChild(td);
      body.appendChild(tr);
    });
    $("batna").textContent = "(no deal gives you " + obs.batna_points + ")";
    $("accept").disabled = !obs.can_accept;
    $("message").value = "";
    points(obs);
  }

  function offer(obs) {
    const out = {};
    obs.issues.forEach((issue, i) => { out[issue.name] = $("issue-" + i).value; });
    return out;
  }

  let current = null;
  async function send(action) {
    if (!current) return;
    const reply = { message: $("message").value, action: action, offer: offer(current) };
    answered = keyOf(current);
    current = null;
    $("game").hidden = true;
    $("waiting").hidden = false;
    await fetch("api/act", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(reply) });
  }

  async function poll() {
    let state;
    try {
      state = await (await fetch("api/state")).json();
    } catch (e) {
      setTimeout(poll, 1000);
      return;
    }
    $("who").textContent = "Playing as human/" + state.handle + " (interface " + state.interface + ")" +
      (state.planned ? "; game " + Math.max(state.game, 1) + " of " + state.planned : "");
    $("consent").hidden = state.consented;
    if (!state.consented) {
      $("consent-text").textContent = state.consent_text;
      $("waiting").hidden = true;
      setTimeout(poll, 500);
      return;
    }
    if (state.finished) {
      $("game").hidden = true;
      $("waiting").hidden = true;
      $("done").hidden = false;
      $("done-text").textContent = state.error ? "The run stopped: " + state.error :
        state.games + " games are saved in " + state.results + ". Check them with arena-bench validate-results, submit them with arena-bench submit.";
      return;
    }
    if (state.observation && keyOf(state.observation) !== answered) {
      current = state.observation;
      $("waiting").hidden = true;
      $("game").hidden = false;
      showObservation(state.observation);
    } else {
      $("game").hidden = true;
      $("waiting").hidden = false;
    }
    setTimeout(poll, 300);
  }

  $("agree").addEventListener("change", () => { $("start").disabled = !$("agree").checked; });
  $("start").addEventListener("click", async () => {
    await fetch("api/consent", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ agree: true }) });
  });
  $("propose").addEventListener("click", () => send("propose"));
  $("accept").addEventListener("click", () => send("accept"));
  $("walk").addEventListener("click", () => send("walk_away"));
  poll();
})();
