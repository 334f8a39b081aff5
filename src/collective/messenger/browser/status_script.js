/* The messenger status box: poll @messenger-status while a post is going out and update the
   figures in place. Without this script the box shows the numbers of the moment the page
   was loaded. */
(function () {
  "use strict";
  var box = document.getElementById("messenger-status");
  if (!box || !window.fetch) {
    return;
  }
  var url = box.getAttribute("data-status-url");
  var every = parseInt(box.getAttribute("data-poll"), 10) || 2000;
  var lang = document.documentElement.lang || undefined;
  // The site's time zone, as the server writes times, not the browser's own.
  var timeZone = box.getAttribute("data-timezone") || undefined;
  var badges = {
    waiting: "bg-warning text-dark",
    queued: "bg-info text-dark",
    done: "bg-success",
    unknown: "bg-warning text-dark"
  };

  function format(iso) {
    if (!iso) {
      return "";
    }
    try {
      return new Date(iso).toLocaleString(lang, { dateStyle: "medium", timeStyle: "medium", timeZone: timeZone });
    } catch (error) {
      return iso;
    }
  }

  function setText(element, text) {
    text = String(text);
    if (element && element.textContent !== text) {
      element.textContent = text;
    }
  }

  function setTime(element, iso) {
    if (element) {
      element.setAttribute("datetime", iso || "");
      setText(element, format(iso));
    }
  }

  function find(parent, name, value) {
    var found = null;
    parent.querySelectorAll("[" + name + "]").forEach(function (element) {
      if (element.getAttribute(name) === value) {
        found = element;
      }
    });
    return found;
  }

  function updatePost(post) {
    var article = find(box, "data-post-id", post.post_id);
    if (!article) {
      return false;
    }
    var state = article.querySelector(".messenger-state");
    if (state && state.getAttribute("data-state") !== post.state_key) {
      state.className = "badge messenger-state " + (badges[post.state_key] || "bg-secondary");
      state.setAttribute("data-state", post.state_key);
      setText(state, post.state_label);
    }
    setText(article.querySelector(".messenger-finished"), post.finished);
    setText(article.querySelector(".messenger-queued"), post.queued);
    var percent = Math.round(post.progress * 100);
    var progress = article.querySelector("[role=progressbar]");
    if (progress) {
      progress.setAttribute("aria-valuenow", percent);
      var bar = progress.querySelector(".progress-bar");
      bar.style.width = percent + "%";
      setText(bar, percent + " %");
      if (post.done) {
        bar.classList.remove("progress-bar-striped", "progress-bar-animated");
      }
    }
    Object.keys(post.channels).forEach(function (channel) {
      var figures = post.channels[channel];
      article.querySelectorAll("[data-channel]").forEach(function (cell) {
        if (cell.getAttribute("data-channel") !== channel) {
          return;
        }
        var counter = cell.getAttribute("data-counter");
        var time = cell.getAttribute("data-time");
        if (counter) {
          if (counter in figures) {
            setText(cell, figures[counter]);
          }
        } else if (time) {
          setTime(cell, figures[time]);
        }
      });
    });
    return true;
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        var known = (data.posts || []).every(updatePost);
        box.setAttribute("data-active", data.active ? "true" : "false");
        if (!known) {
          window.location.reload(); // a post made elsewhere: show it with all its rows
        } else if (data.active) {
          window.setTimeout(poll, every);
        }
      })
      .catch(function () {
        window.setTimeout(poll, every * 5); // the site or network hiccupped: try again later
      });
  }

  // One way of writing times, whether the server or this script wrote them.
  box.querySelectorAll("time[datetime]").forEach(function (element) {
    if (element.getAttribute("datetime")) {
      setText(element, format(element.getAttribute("datetime")));
    }
  });
  if (box.getAttribute("data-active") === "true") {
    window.setTimeout(poll, every);
  }
})();
