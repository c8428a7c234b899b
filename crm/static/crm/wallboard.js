// The wallboard refreshes its figures in place: every data-refresh-seconds it reads the board's
// JSON (same origin, the session's cookie) and rebuilds the three panels from it. Text goes in
// through textContent only. When a read fails, the last figures stay up under a notice.
(function () {
  "use strict";
  var root = document.getElementById("wallboard");
  if (!root) return;
  var url = root.dataset.url;
  var seconds = parseInt(root.dataset.refreshSeconds, 10) || 30;

  function cell(tag, text, className, scope) {
    var element = document.createElement(tag);
    element.textContent = text;
    if (className) element.className = className;
    if (scope) element.scope = scope;
    return element;
  }

  function agentRow(agent) {
    var row = document.createElement("tr");
    row.appendChild(cell("th", agent.name, "", "row"));
    row.appendChild(cell("td", String(agent.attempts), "num"));
    row.appendChild(cell("td", String(agent.reached), "num"));
    row.appendChild(cell("td", agent.average_handling, "num"));
    return row;
  }

  function replaceRows(tbody, rows) {
    tbody.replaceChildren.apply(tbody, rows);
  }

  function show(board) {
    var agents = document.getElementById("wb-agents");
    replaceRows(agents.tBodies[0], board.agents.map(agentRow));
    agents.classList.toggle("dense", board.agents.length > parseInt(agents.dataset.denseAbove, 10));
    var total = agents.tFoot.rows[0].cells;
    total[1].textContent = String(board.total.attempts);
    total[2].textContent = String(board.total.reached);
    total[3].textContent = board.total.average_handling;
    document.getElementById("wb-agents-empty").hidden = board.agents.length > 0;

    board.queue.forEach(function (bucket) {
      var tile = document.querySelector('#wb-queue [data-key="' + bucket.key + '"]');
      if (tile) tile.querySelector(".wb-tile-value").textContent = String(bucket.count);
    });
    document.getElementById("wb-queue-total").textContent = String(board.queue_total);

    var outcomes = document.getElementById("wb-outcomes");
    replaceRows(outcomes.tBodies[0], board.outcomes.map(function (outcome) {
      var row = document.createElement("tr");
      row.dataset.key = outcome.key;
      row.appendChild(cell("th", outcome.label, "", "row"));
      row.appendChild(cell("td", String(outcome.count), "num"));
      return row;
    }));
    document.getElementById("wb-last-hour").textContent = String(board.last_hour);
    document.getElementById("wb-outcomes-empty").hidden = board.outcomes.length > 0;

    document.getElementById("wb-updated").textContent = board.updated;
    document.getElementById("wb-stale").hidden = true;
  }

  function refresh() {
    // A signed-out session is redirected to the sign-in page, which is not JSON: it counts
    // as a failed read, like a server out of reach.
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then(show)
      .catch(function () { document.getElementById("wb-stale").hidden = false; })
      .finally(function () { window.setTimeout(refresh, seconds * 1000); });
  }

  window.setTimeout(refresh, seconds * 1000);
})();
