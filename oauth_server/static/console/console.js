// Latchkey console: dialogs, the one-time secret's reveal and copy, local times.
// Every page works without this script (dialogs are server-rendered with `open`); the script
// makes dialogs modal, keeps focus inside them, and shows times in the viewer's time zone.
(function () {
  "use strict";

  // -- dialogs -------------------------------------------------------------------------------

  function cancelLink(dialog) {
    return dialog.querySelector("a[data-dialog-close]");
  }

  function leave(dialog) {
    // A dialog opened in place just closes; one the server rendered open belongs to its own
    // URL (…/new, …/rotate), so leaving it means going back to the list.
    const link = cancelLink(dialog);
    if (dialog.dataset.inPlace === "1" || !link) {
      dialog.close();
    } else {
      window.location.assign(link.href);
    }
  }

  function upgradeDialog(dialog) {
    dialog.addEventListener("cancel", function (event) {
      event.preventDefault();
      leave(dialog);
    });
    const link = cancelLink(dialog);
    if (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        leave(dialog);
      });
    }
  }

  function focusFirst(dialog) {
    const target =
      dialog.querySelector("[aria-invalid='true']") ||
      dialog.querySelector("[autofocus]") ||
      dialog.querySelector("input:not([type=hidden]), select, textarea, button");
    if (target) {
      target.focus();
    }
  }

  function initDialogs() {
    document.querySelectorAll("dialog").forEach(function (dialog) {
      upgradeDialog(dialog);
      if (dialog.hasAttribute("open")) {
        dialog.close();
        dialog.showModal();
        focusFirst(dialog);
      }
    });
    document.querySelectorAll("[data-dialog-open]").forEach(function (opener) {
      opener.addEventListener("click", function (event) {
        const dialog = document.getElementById(opener.getAttribute("data-dialog-open"));
        if (!dialog || typeof dialog.showModal !== "function") {
          return; // follow the link: the server renders the dialog open
        }
        event.preventDefault();
        dialog.dataset.inPlace = "1";
        dialog.showModal();
        focusFirst(dialog);
      });
    });
  }

  // -- the one-time secret -------------------------------------------------------------------

  function initSecrets() {
    // The button says what it will do ("Reveal", then "Hide"); a changing label and
    // aria-pressed together would tell a screen reader the opposite of each other.
    document.querySelectorAll("button[data-reveal]").forEach(function (button) {
      const input = document.getElementById(button.getAttribute("data-reveal"));
      button.addEventListener("click", function () {
        const hidden = input.type === "password";
        input.type = hidden ? "text" : "password";
        button.textContent = hidden ? "Hide" : "Reveal";
      });
    });
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      const input = document.getElementById(button.getAttribute("data-copy"));
      const status = document.getElementById(button.getAttribute("data-copy") + "-status");
      button.addEventListener("click", function () {
        copy(input).then(
          function () {
            if (status) status.textContent = "Copied to the clipboard.";
          },
          function () {
            if (status) status.textContent = "Could not copy: select the text and copy it.";
          }
        );
      });
    });
  }

  function copy(input) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(input.value);
    }
    // Fallback for plain-HTTP hosts other than localhost, where the Clipboard API is absent.
    const type = input.type;
    input.type = "text";
    input.select();
    const ok = document.execCommand("copy");
    input.type = type;
    input.setSelectionRange(0, 0);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy failed"));
  }

  // -- times ---------------------------------------------------------------------------------

  const UNITS = [
    ["year", 365 * 24 * 3600],
    ["month", 30 * 24 * 3600],
    ["week", 7 * 24 * 3600],
    ["day", 24 * 3600],
    ["hour", 3600],
    ["minute", 60],
  ];

  function relative(date, now) {
    const seconds = (date.getTime() - now) / 1000;
    const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
    for (const [unit, size] of UNITS) {
      if (Math.abs(seconds) >= size) {
        // Whole units only, counted towards zero either way: 3.6 days ahead is "in 3 days"
        // (rounding would say 4, a day the key does not have), 3.6 days back "3 days ago".
        return rtf.format(Math.trunc(seconds / size), unit);
      }
    }
    return seconds < 0 ? "just now" : "in under a minute";
  }

  function initTimes() {
    const now = Date.now();
    const absolute = new Intl.DateTimeFormat(undefined, {
      dateStyle: "medium",
      timeStyle: "short",
    });
    const full = new Intl.DateTimeFormat(undefined, {
      dateStyle: "full",
      timeStyle: "long",
    });
    document.querySelectorAll("time[datetime]").forEach(function (el) {
      const date = new Date(el.getAttribute("datetime"));
      if (isNaN(date.getTime())) return;
      el.textContent = absolute.format(date) + " (" + relative(date, now) + ")";
      el.title = full.format(date);
    });
    // Audit-log filters: the server reads typed times in the viewer's zone, not UTC.
    document.querySelectorAll("input[name=tz_offset]").forEach(function (el) {
      el.value = String(new Date().getTimezoneOffset());
    });
  }

  // -- forms ---------------------------------------------------------------------------------

  function initForms() {
    // Typing a date picks the radio button that the date belongs to (an API key's expiry).
    document.querySelectorAll("input[data-checks]").forEach(function (input) {
      input.addEventListener("input", function () {
        const radio = document.getElementById(input.getAttribute("data-checks"));
        if (radio && input.value) radio.checked = true;
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    initForms();
    initDialogs();
    initSecrets();
    initTimes();
  });
})();
