/*
 * frontdoor chat widget: the public, anonymous reporting chat of an Internet hotline.
 *
 * Embed with one tag (see README.md beside this file):
 *   <script src="https://hotline.example/widget.js" data-title="Report to Example Hotline" defer></script>
 *
 * Rules this file keeps, so a hotline can audit it quickly:
 * - Server text only ever reaches the page as text nodes (textContent / append(string)), never as HTML.
 * - No cookies, no localStorage: the conversation token lives in memory and in sessionStorage
 *   (so a reload in the same tab resumes), and Quick exit wipes it.
 * - No requests anywhere but the hotline's own API and widget.css; no fonts, no images.
 * - No inline styles: widget.css is loaded with <link>; only the two accent colours are set,
 *   as CSS custom properties through the CSSOM, which a `style-src 'self'` CSP allows.
 */
(function () {
  "use strict";

  // document.currentScript is only set while this file first runs: read the config now.
  const script = document.currentScript || document.querySelector("script[src*='widget.js']");
  if (!script || !window.customElements || customElements.get("frontdoor-chat")) return;

  const data = script.dataset;
  const scriptUrl = new URL(script.src, location.href);
  const config = {
    api: (data.api || scriptUrl.origin).replace(/\/+$/, ""),
    css: new URL("widget.css", scriptUrl).href,
    language: data.language || "",
    title: data.title || "",
    accent: data.accent || "",
    accentText: data.accentText || "",
    exitUrl: httpUrl(data.exitUrl) || "https://www.google.com/",
  };

  const STORE_KEY = "frontdoor-chat"; // the only sessionStorage key the widget uses
  const TIMEOUT_MS = 45000; // slow mobile connections: wait long before calling it a failure
  const MAX_CHARS = 10000; // what the server accepts in one message

  // The widget's own words. Server messages come already translated.
  const STRINGS = {
    en: {
      launcher: "Report or get help", title: "Report or get help", exit: "Quick exit", close: "Close chat",
      send: "Send", copy: "Copy", copied: "Copied", selected: "The code is selected. Copy it now, or write it down.",
      typing: "Typing…", you: "You said:", bot: "Hotline said:", receipt: "Your receipt code",
      url: "Link to the page", message: "Your message", log: "Conversation", choices: "Choose an answer",
      network: "We couldn't reach the hotline. Please check your connection and try again. What you wrote is still here.",
      server: "Something went wrong on our side. Please try again in a moment.",
      busy: "Please wait a moment before sending again.", wait: "You can send again in {n} s.",
      expired: "This conversation has ended. We are starting a new one.",
      retry: "Try again", again: "Start again", fresh: "Start a new conversation",
      call: "Call {n}", newTab: "(opens in a new tab)",
    },
    de: {
      launcher: "Melden oder Hilfe holen", title: "Melden oder Hilfe holen", exit: "Schnell weg", close: "Chat schließen",
      send: "Senden", copy: "Kopieren", copied: "Kopiert", selected: "Der Code ist markiert. Kopier ihn jetzt oder schreib ihn auf.",
      typing: "Schreibt…", you: "Du hast geschrieben:", bot: "Die Meldestelle schreibt:", receipt: "Dein Bestätigungscode",
      url: "Link zur Seite", message: "Deine Nachricht", log: "Unterhaltung", choices: "Wähl eine Antwort",
      network: "Wir konnten die Meldestelle nicht erreichen. Bitte prüf deine Verbindung und versuch es noch mal. Was du geschrieben hast, ist noch da.",
      server: "Bei uns ist etwas schiefgelaufen. Bitte versuch es gleich noch mal.",
      busy: "Bitte warte kurz, bevor du wieder etwas schickst.", wait: "Du kannst in {n} s wieder senden.",
      expired: "Diese Unterhaltung ist beendet. Wir fangen eine neue an.",
      retry: "Noch mal versuchen", again: "Neu anfangen", fresh: "Neue Unterhaltung anfangen",
      call: "Anrufen: {n}", newTab: "(öffnet sich in einem neuen Tab)",
    },
    fr: {
      launcher: "Signaler ou obtenir de l'aide", title: "Signaler ou obtenir de l'aide", exit: "Sortie rapide", close: "Fermer le chat",
      send: "Envoyer", copy: "Copier", copied: "Copié", selected: "Le code est sélectionné. Copie-le maintenant, ou note-le.",
      typing: "En train d'écrire…", you: "Tu as écrit :", bot: "La hotline a écrit :", receipt: "Ton code de suivi",
      url: "Lien vers la page", message: "Ton message", log: "Conversation", choices: "Choisis une réponse",
      network: "Impossible de joindre la hotline. Vérifie ta connexion et réessaie. Ce que tu as écrit est toujours là.",
      server: "Un problème est survenu de notre côté. Réessaie dans un instant.",
      busy: "Attends un peu avant d'envoyer à nouveau.", wait: "Tu pourras renvoyer dans {n} s.",
      expired: "Cette conversation est terminée. Nous en commençons une nouvelle.",
      retry: "Réessayer", again: "Recommencer", fresh: "Commencer une nouvelle conversation",
      call: "Appeler le {n}", newTab: "(s'ouvre dans un nouvel onglet)",
    },
  };

  // ---- small helpers ------------------------------------------------------------------

  function httpUrl(value) {
    try {
      const url = new URL(String(value || ""), location.href);
      return /^https?:$/.test(url.protocol) && value ? url.href : "";
    } catch (e) {
      return "";
    }
  }

  function pickLocale() {
    for (const candidate of arguments) {
      const code = String(candidate || "").slice(0, 2).toLowerCase();
      if (STRINGS[code]) return code;
    }
    return "en";
  }

  function fill(template, n) {
    return template.replace("{n}", () => n); // a function: no $-patterns from n
  }

  // Builds an element. Attribute names are ours; values from the server only ever go in as
  // text ("text") or as checked URLs (href), never as markup.
  function h(tag, attrs, children) {
    const el = document.createElement(tag);
    for (const key of Object.keys(attrs || {})) {
      const value = attrs[key];
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") el.textContent = value;
      else if (key.slice(0, 2) === "on") el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children || []) if (child) el.append(child);
    return el;
  }

  // Server text may contain newlines: text nodes with <br> between them.
  function lines(text) {
    const frag = document.createDocumentFragment();
    String(text === null || text === undefined ? "" : text).split("\n").forEach((line, i) => {
      if (i) frag.append(h("br"));
      frag.append(line);
    });
    return frag;
  }

  // Resource bodies are short Markdown; we show plain text: links become their label, and
  // ** __ * _ emphasis markers go (a snake_case word or a lone "*" stays as it is).
  function plain(markdown) {
    return String(markdown || "")
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
      .replace(/(\*\*|__)(?=\S)([\s\S]*?\S)\1/g, "$2")
      .replace(/(^|[^\w*])([*_])(?=\S)([^*_\n]*?\S)\2(?![\w*])/g, "$1$3");
  }

  function svg(pathData) {
    const NS = "http://www.w3.org/2000/svg";
    const icon = document.createElementNS(NS, "svg");
    icon.setAttribute("viewBox", "0 0 24 24");
    icon.setAttribute("aria-hidden", "true");
    icon.setAttribute("focusable", "false");
    icon.setAttribute("class", "fd-icon");
    const path = document.createElementNS(NS, "path");
    path.setAttribute("d", pathData);
    icon.append(path);
    return icon;
  }
  const CHAT_ICON = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z";
  const CLOSE_ICON = "M6 6l12 12M18 6L6 18";

  function retrySeconds(header) {
    const value = String(header || "").trim();
    const seconds = /^\d+$/.test(value) ? Number(value) : Math.ceil((Date.parse(value) - Date.now()) / 1000);
    return seconds > 0 ? Math.min(seconds, 3600) : 10;
  }

  // sessionStorage can be switched off or full: then the widget simply keeps it in memory.
  const store = {
    read() {
      try { return JSON.parse(sessionStorage.getItem(STORE_KEY) || "null"); } catch (e) { return null; }
    },
    write(value) {
      try { sessionStorage.setItem(STORE_KEY, JSON.stringify(value)); } catch (e) { /* memory only */ }
    },
    clear() {
      try { sessionStorage.removeItem(STORE_KEY); } catch (e) { /* nothing stored */ }
    },
  };

  // A name for one turn, sent as its Idempotency-Key (a UUID where the browser has one).
  function turnId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  class ApiError extends Error {
    constructor(status, body, retryAfter) {
      super((body && typeof body.message === "string" && body.message) || "");
      this.status = status; // 0: no answer at all (offline, timeout, blocked)
      this.code = (body && body.error) || "";
      this.retryAfter = retryAfter;
    }
  }

  // ---- the element --------------------------------------------------------------------

  class FrontdoorChat extends HTMLElement {
    connectedCallback() {
      if (!this.shadowRoot) this.setup(); // once: moving the element in the page keeps it all
      window.addEventListener("keydown", this.onKey, true);
      document.addEventListener("click", this.onOpener);
    }

    disconnectedCallback() {
      window.removeEventListener("keydown", this.onKey, true);
      document.removeEventListener("click", this.onOpener);
    }

    setup() {
      this.onKey = this.onKey.bind(this);
      this.onOpener = this.onOpener.bind(this);
      this.token = null;
      this.unanswered = null; // {body, id}: the turn whose answer never came, named again when it is retried
      this.state = "open";
      this.isOpen = false;
      this.pending = false;
      this.waitUntil = 0;
      this.replies = []; // the quick replies that may still be chosen
      this.lastTurn = null; // replayed after a reload in the same tab
      this.lastEscape = 0;
      this.touch = false;
      this.locale = pickLocale(config.language, document.documentElement.lang);
      this.t = STRINGS[this.locale];
      this.colour("--fd-accent", config.accent);
      this.colour("--fd-accent-text", config.accentText);
      this.build();
      this.applyStrings();
      this.resume();
    }

    colour(name, value) {
      // CSSOM, not a style attribute: allowed under `style-src 'self'`.
      if (value && window.CSS && CSS.supports("color", value)) this.style.setProperty(name, value);
    }

    build() {
      const root = this.attachShadow({ mode: "open" });
      // Hidden until widget.css has loaded, so the page never shows it unstyled.
      this.wrap = h("section", { class: "fd", hidden: true, lang: this.locale });
      const show = () => { this.wrap.hidden = false; };
      root.append(h("link", { rel: "stylesheet", href: config.css, onload: show, onerror: show }), this.wrap);

      this.launcherText = h("span");
      this.launcher = h("button", {
        type: "button", class: "fd-launcher", "data-testid": "fd-launcher", "aria-expanded": "false",
        "aria-controls": "fd-panel", onclick: () => this.open(true),
      }, [svg(CHAT_ICON), this.launcherText]);
      this.dockExit = h("button", {
        type: "button", class: "fd-exit fd-exit-small", "data-testid": "fd-launcher-exit", onclick: () => this.quickExit(),
      });
      this.dock = h("div", { class: "fd-dock" }, [this.dockExit, this.launcher]);

      this.titleEl = h("h2", { class: "fd-title", id: "fd-title" });
      this.exitBtn = h("button", {
        type: "button", class: "fd-exit", "data-testid": "fd-quick-exit", onclick: () => this.quickExit(),
      });
      this.closeBtn = h("button", {
        type: "button", class: "fd-close", "data-testid": "fd-close", onclick: () => this.close(),
      }, [svg(CLOSE_ICON)]);

      this.list = h("ol", { class: "fd-list" });
      this.typingText = h("span", { class: "fd-sr" });
      this.typing = h("div", { class: "fd-typing", "data-testid": "fd-typing", hidden: true }, [
        this.typingText, h("span", { class: "fd-dots", "aria-hidden": "true" }, [h("span"), h("span"), h("span")]),
      ]);
      // role=log is a polite live region: new messages are read out as they arrive.
      // tabindex=0 so keyboard users can scroll it.
      this.log = h("div", {
        class: "fd-log", role: "log", "aria-live": "polite", tabindex: "0", "data-testid": "fd-log",
      }, [this.list, this.typing]);

      this.noticeText = h("p", { class: "fd-notice-text", role: "status", "data-testid": "fd-notice" });
      this.waitText = h("p", { class: "fd-wait", "data-testid": "fd-wait", hidden: true });
      this.retryBtn = h("button", { type: "button", class: "fd-action", "data-testid": "fd-retry", hidden: true });
      this.restartBtn = h("button", {
        type: "button", class: "fd-action", "data-testid": "fd-restart", hidden: true, onclick: () => this.restart(""),
      });
      const notice = h("div", { class: "fd-notice" }, [this.noticeText, this.waitText, this.retryBtn, this.restartBtn]);

      this.label = h("label", { class: "fd-label", for: "fd-input" });
      this.kind = "";
      this.field = this.makeField("line");
      this.sendBtn = h("button", {
        type: "submit", class: "fd-send", "data-testid": "fd-send",
        // keep focus (and the phone keyboard) in the input when Send is clicked
        onmousedown: (e) => e.preventDefault(),
      });
      this.row = h("div", { class: "fd-row" }, [this.field, this.sendBtn]);
      this.form = h("form", {
        class: "fd-form", novalidate: true, // the server checks links and explains kindly
        onsubmit: (e) => { e.preventDefault(); this.sendTyped(); },
      }, [this.label, this.row]);

      this.panel = h("div", {
        class: "fd-panel", id: "fd-panel", "data-testid": "fd-panel", hidden: true,
        onpointerdown: (e) => { this.touch = e.pointerType === "touch"; },
        onkeydown: () => { this.touch = false; },
      }, [h("div", { class: "fd-head" }, [this.titleEl, this.exitBtn, this.closeBtn]), this.log, notice, this.form]);

      this.wrap.append(this.dock, this.panel);
    }

    applyStrings() {
      const t = this.t;
      const title = config.title || t.title;
      this.wrap.setAttribute("aria-label", title);
      this.titleEl.textContent = title;
      this.launcherText.textContent = t.launcher;
      this.dockExit.textContent = t.exit;
      this.exitBtn.textContent = t.exit;
      this.closeBtn.setAttribute("aria-label", t.close);
      this.log.setAttribute("aria-label", t.log);
      this.typingText.textContent = t.typing;
      this.label.textContent = this.kind === "url" ? t.url : t.message;
      this.sendBtn.textContent = t.send;
      this.retryBtn.textContent = t.retry;
      this.restartBtn.textContent = this.state === "closed" ? t.fresh : t.again;
      for (const group of this.list.querySelectorAll(".fd-replies")) group.setAttribute("aria-label", t.choices);
    }

    setLocale(locale) {
      if (typeof locale !== "string") return;
      if (/^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/.test(locale)) this.wrap.setAttribute("lang", locale);
      const code = pickLocale(locale, config.language, document.documentElement.lang);
      if (code === this.locale) return;
      this.locale = code;
      this.t = STRINGS[code];
      this.applyStrings();
    }

    // ---- the input: its kind follows what the dialog expects ----------------------------

    makeField(kind) {
      const isText = kind === "text";
      const field = h(isText ? "textarea" : "input", {
        id: "fd-input", class: "fd-input", "data-testid": "fd-input", autocomplete: "off", maxlength: MAX_CHARS,
        enterkeyhint: "send",
      });
      if (isText) {
        field.rows = 1;
        field.addEventListener("input", () => this.grow());
        field.addEventListener("keydown", (e) => {
          if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
            e.preventDefault(); // Enter sends, Shift+Enter is a new line
            this.sendTyped();
          }
        });
      } else {
        field.type = kind === "url" ? "url" : "text";
      }
      if (kind === "url") {
        // a link, not prose: no autocorrect, no capital letter, a keyboard with "/" and ".com"
        for (const [k, v] of [["inputmode", "url"], ["spellcheck", "false"], ["autocapitalize", "off"],
          ["autocorrect", "off"], ["placeholder", "https://"]]) field.setAttribute(k, v);
      }
      this.kind = kind;
      return field;
    }

    setExpects(expects) {
      const kind = expects === "url" ? "url" : expects === "text" ? "text" : "line";
      if (kind === this.kind) return;
      const old = this.field;
      const focused = this.shadowRoot.activeElement === old;
      this.field = this.makeField(kind);
      this.field.value = old.value; // never lose a draft
      old.replaceWith(this.field);
      this.label.textContent = kind === "url" ? this.t.url : this.t.message;
      if (focused) this.field.focus(); // the input keeps focus; nothing else takes it
      this.grow();
    }

    // The textarea grows with its text, by rows (an attribute, so no inline style).
    grow() {
      const field = this.field;
      if (field.tagName !== "TEXTAREA") return;
      field.rows = 1;
      while (field.rows < 6 && field.scrollHeight > field.clientHeight) field.rows += 1;
    }

    // ---- opening, closing, leaving ------------------------------------------------------

    open(focus) {
      this.isOpen = true;
      this.panel.hidden = false;
      this.dock.hidden = true;
      this.launcher.setAttribute("aria-expanded", "true");
      this.save();
      if (!this.token && !this.pending) this.start();
      this.grow();
      this.log.scrollTop = this.log.scrollHeight;
      if (focus) this.focusInput();
    }

    close() {
      this.isOpen = false;
      this.panel.hidden = true;
      this.dock.hidden = false;
      this.launcher.setAttribute("aria-expanded", "false");
      this.save();
      this.launcher.focus();
    }

    focusInput() {
      if (!this.form.hidden) this.field.focus();
      else if (!this.restartBtn.hidden) this.restartBtn.focus();
    }

    onOpener(e) {
      // Any page element with data-frontdoor-open (e.g. a "Report now" link to the
      // no-JavaScript form) opens the chat instead.
      const opener = e.target && e.target.closest && e.target.closest("[data-frontdoor-open]");
      if (!opener || e.ctrlKey || e.metaKey || e.shiftKey) return; // a new tab keeps the link
      e.preventDefault();
      this.open(true);
    }

    onKey(e) {
      if ((e.key !== "Escape" && e.key !== "Esc") || e.isComposing) return;
      const now = Date.now();
      if (now - this.lastEscape < 1000) {
        e.preventDefault();
        this.quickExit(); // Escape twice, anywhere on the page
        return;
      }
      this.lastEscape = now;
      if (this.isOpen && e.composedPath().indexOf(this) !== -1) {
        e.preventDefault();
        this.close();
      }
    }

    quickExit() {
      this.gone = true;
      store.clear();
      if (this.token) {
        // Ask the server to forget the conversation now; nobody waits for the answer.
        fetch(this.messagesUrl(), {
          method: "POST", keepalive: true, credentials: "omit", referrerPolicy: "no-referrer",
          headers: { "Content-Type": "application/json" }, body: JSON.stringify({ payload: "/stop" }),
        }).catch(() => {});
      }
      this.token = null;
      if (this.abort) this.abort.abort();
      this.shadowRoot.textContent = ""; // nothing of the conversation stays on screen
      location.replace(config.exitUrl); // replace: Back does not come here
    }

    // ---- talking to the server ----------------------------------------------------------

    messagesUrl() {
      return config.api + "/api/v1/conversations/" + encodeURIComponent(this.token) + "/messages";
    }

    async request(url, body, turn) {
      const abort = new AbortController();
      this.abort = abort;
      const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
      const headers = { "Content-Type": "application/json" };
      if (turn) headers["Idempotency-Key"] = '"' + turn + '"';
      let response;
      let json = null;
      try {
        response = await fetch(url, {
          method: "POST", headers: headers, body: JSON.stringify(body),
          credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer", signal: abort.signal,
        });
        json = await response.json();
      } catch (e) {
        if (!response) throw new ApiError(0, null, 0);
      } finally {
        clearTimeout(timer);
      }
      if (response.ok && json) return json;
      throw new ApiError(response.ok ? 500 : response.status, json, retrySeconds(response.headers.get("Retry-After")));
    }

    // Each request ends "not pending" before its answer is handled, since handling an
    // error may start the next request (a new conversation).
    async start() {
      this.setPending(true);
      let json;
      try {
        json = await this.request(config.api + "/api/v1/conversations",
          config.language ? { locale: config.language } : {});
        if (typeof json.conversation !== "string") throw new ApiError(500, null, 0);
      } catch (err) {
        this.setPending(false);
        this.fail(err, () => this.start());
        return;
      }
      this.setPending(false);
      this.token = json.conversation;
      this.receive(json);
    }

    sendTyped() {
      const text = this.field.value.trim();
      if (this.blocked()) return; // the text stays in the input
      if (!this.token) {
        this.start(); // no conversation yet: start one and keep the draft for its first question
        return;
      }
      if (!text) return;
      this.field.value = "";
      this.grow();
      const undo = () => {
        this.field.value = this.field.value ? text + " " + this.field.value : text;
        this.grow();
      };
      this.send({ text: text }, text, undo, () => this.sendTyped());
    }

    choose(reply, button) {
      if (this.blocked() || !this.token) return;
      const group = this.replies;
      button.classList.add("is-chosen");
      this.replies = []; // chosen: these are disabled from now on
      const undo = () => {
        button.classList.remove("is-chosen");
        this.replies = group;
      };
      this.send({ payload: reply.payload }, reply.title, undo, () => this.choose(reply, button));
    }

    async send(body, echo, undo, retry) {
      const bubble = this.addMessage("you", echo);
      this.reveal(bubble);
      this.setPending(true);
      // The same words again after a failure are a retry of that turn: the same name, so that a turn
      // the server took before its answer was lost (a 503, a timeout) is answered, not taken twice.
      const text = JSON.stringify(body);
      if (!this.unanswered || this.unanswered.body !== text) this.unanswered = { body: text, id: turnId() };
      let json;
      try {
        json = await this.request(this.messagesUrl(), body, this.unanswered.id);
        this.unanswered = null;
      } catch (err) {
        this.setPending(false);
        bubble.remove();
        undo(); // what the reporter wrote or chose is theirs to send again
        this.fail(err, retry);
        return;
      }
      this.setPending(false);
      this.receive(json);
    }

    fail(err, retry) {
      if (this.gone) return;
      const t = this.t;
      // Expired and too fast: our own words, in the reporter's language (the API's are English).
      if (err.status === 404 && err.code === "conversation_not_found") {
        this.restart(t.expired);
      } else if (err.status === 429) {
        this.note(t.busy);
        this.waitFor(err.retryAfter || 10);
      } else if (err.status >= 400 && err.status < 500 && err.message) {
        this.note(err.message); // e.g. a message too long: the server says what to change
      } else {
        this.note(err.status ? t.server : t.network, retry);
      }
    }

    blocked() {
      return this.pending || this.waitUntil > Date.now();
    }

    setPending(pending) {
      this.pending = pending;
      this.typing.hidden = !pending;
      if (pending) {
        this.note("");
        this.log.scrollTop = this.log.scrollHeight;
      }
      this.updateControls();
    }

    // Send and the live quick replies are disabled while a message is on its way or the
    // server asked us to wait. A control that loses focus that way hands it to the input.
    updateControls() {
      const blocked = this.blocked();
      const active = this.shadowRoot.activeElement;
      let lostFocus = false;
      const disable = (button, off) => {
        if (off && active === button) lostFocus = true;
        button.disabled = off;
      };
      disable(this.sendBtn, blocked);
      for (const button of this.list.querySelectorAll(".fd-reply")) {
        disable(button, blocked || this.replies.indexOf(button) === -1);
      }
      if (lostFocus) {
        if (this.touch) active.blur(); // on a phone, don't pop the keyboard up after a tap
        else this.focusInput();
      }
    }

    // The server's 429: no sending for that long, with a visible countdown (not announced
    // every second; the notice above it is announced once).
    waitFor(seconds) {
      this.waitUntil = Date.now() + seconds * 1000;
      clearInterval(this.waitTimer);
      const tick = () => {
        const left = Math.ceil((this.waitUntil - Date.now()) / 1000);
        this.waitText.hidden = left <= 0;
        this.waitText.textContent = left > 0 ? fill(this.t.wait, left) : "";
        if (left <= 0) {
          clearInterval(this.waitTimer);
          this.note("");
          this.updateControls();
          if (!this.token && this.isOpen && !this.pending) this.start(); // it was the start that waited
        }
      };
      tick();
      this.waitTimer = setInterval(tick, 1000);
      this.updateControls();
    }

    note(text, retry) {
      this.noticeText.textContent = text || "";
      this.retryBtn.hidden = !retry;
      this.retryBtn.onclick = retry ? () => { this.retryBtn.hidden = true; this.focusInput(); retry(); } : null;
    }

    restart(message) {
      this.token = null;
      this.lastTurn = null;
      this.replies = [];
      this.list.textContent = "";
      this.note("");
      this.setClosed(false);
      if (message) this.addMessage("system", message);
      this.save();
      this.start();
    }

    // ---- what the server said -----------------------------------------------------------

    receive(json, replay) {
      this.setLocale(json.locale);
      const messages = Array.isArray(json.messages) ? json.messages : [];
      this.replies = []; // a new turn: earlier quick replies no longer apply
      const items = [];
      let expects = "none";
      for (const message of messages) {
        items.push(this.addBot(message || {}));
        if (message && message.expects && message.expects !== "none") expects = message.expects;
      }
      const receipt = typeof json.receipt === "string" && json.receipt;
      if (receipt) {
        // right under the message that gives the code, so it is in view at once
        const anchor = items.filter((item) => item.textContent.indexOf(receipt) !== -1)[0] || items[0];
        const box = this.makeReceipt(receipt);
        if (anchor) anchor.after(box);
        else this.list.append(box);
      }
      this.state = json.state === "closed" || json.state === "submitted" ? json.state : "open";
      this.lastTurn = { messages: messages, receipt: json.receipt || null, state: this.state, locale: json.locale };
      this.setExpects(expects);
      this.setClosed(this.state === "closed");
      this.updateControls();
      if (!replay) this.save();
      this.reveal(items[0]);
    }

    setClosed(closed) {
      const hadFocus = this.form.contains(this.shadowRoot.activeElement) ||
        this.shadowRoot.activeElement === this.restartBtn;
      this.form.hidden = closed;
      this.restartBtn.hidden = !closed;
      this.restartBtn.textContent = closed ? this.t.fresh : this.t.again;
      if (hadFocus) this.focusInput();
    }

    // Show the start of what just arrived; if it all fits, the end of the log.
    reveal(item) {
      const log = this.log;
      const end = log.scrollHeight - log.clientHeight;
      log.scrollTop = item ? Math.min(item.offsetTop - 8, end) : end;
    }

    addMessage(from, text) {
      const prefix = from === "you" ? this.t.you : from === "hotline" ? this.t.bot : "";
      const bubble = h("p", { class: "fd-bubble" }, [prefix && h("span", { class: "fd-sr", text: prefix + " " }), lines(text)]);
      const item = h("li", { class: "fd-msg fd-" + from, "data-testid": "fd-message", "data-from": from }, [bubble]);
      this.list.append(item);
      return item;
    }

    addBot(message) {
      const item = this.addMessage("hotline", message.text);
      const resources = Array.isArray(message.resources) ? message.resources : [];
      if (resources.length) item.append(h("ul", { class: "fd-cards" }, resources.map((r) => this.card(r || {}))));
      const replies = Array.isArray(message.quick_replies) ? message.quick_replies : [];
      if (replies.length) {
        const group = h("div", { class: "fd-replies", role: "group", "aria-label": this.t.choices });
        for (const reply of replies) {
          if (!reply || typeof reply.payload !== "string") continue;
          const title = String(reply.title || reply.payload);
          const button = h("button", {
            type: "button", class: "fd-reply", "data-testid": "fd-quick-reply", text: title,
            onclick: () => this.choose({ title: title, payload: reply.payload }, button),
          });
          this.replies.push(button);
          group.append(button);
        }
        item.append(group);
      }
      return item;
    }

    card(resource) {
      const links = [];
      const tel = String(resource.phone_uri || "");
      if (/^tel:[0-9+*#().-]+$/i.test(tel) && resource.phone_display) {
        links.push(h("a", { class: "fd-call", href: tel, text: fill(this.t.call, String(resource.phone_display)) }));
      }
      const url = httpUrl(resource.url);
      if (url) {
        links.push(h("a", { class: "fd-link", href: url, target: "_blank", rel: "noopener noreferrer" }, [
          new URL(url).hostname.replace(/^www\./, ""), h("span", { class: "fd-sr", text: " " + this.t.newTab }),
        ]));
      }
      return h("li", { class: "fd-card", "data-testid": "fd-resource" }, [
        h("h3", { class: "fd-card-title", text: String(resource.title || "") }),
        resource.body && h("p", { class: "fd-card-body" }, [lines(plain(resource.body))]),
        links.length && h("p", { class: "fd-card-links" }, links),
      ]);
    }

    makeReceipt(code) {
      const codeEl = h("span", { class: "fd-code", "data-testid": "fd-receipt", text: code });
      const result = h("span", { class: "fd-copied" });
      const copy = h("button", {
        type: "button", class: "fd-copy", "data-testid": "fd-copy", text: this.t.copy,
        onclick: () => this.copy(codeEl, result),
      });
      return h("li", { class: "fd-msg fd-receipt", "data-testid": "fd-receipt-box" }, [
        h("p", { class: "fd-receipt-label", text: this.t.receipt }), h("p", { class: "fd-receipt-row" }, [codeEl, copy]), result,
      ]);
    }

    async copy(codeEl, result) {
      try {
        await navigator.clipboard.writeText(codeEl.textContent);
        result.textContent = this.t.copied;
      } catch (e) {
        // No clipboard API (an old browser, a page not on https): select the code instead.
        const selection = window.getSelection();
        selection.selectAllChildren(codeEl);
        let copied = false;
        try { copied = document.execCommand("copy"); } catch (e2) { /* selected is enough */ }
        result.textContent = copied ? this.t.copied : this.t.selected;
      }
    }

    // ---- the same tab, reloaded ---------------------------------------------------------

    save() {
      if (this.gone) return;
      if (!this.token) {
        store.clear();
        return;
      }
      // Only the token: never a turn, which can hold the summary of what the reporter wrote.
      store.write({ token: this.token, open: this.isOpen });
    }

    async resume() {
      const saved = store.read();
      if (!saved || typeof saved.token !== "string") return;
      this.token = saved.token;
      if (saved.open) this.open(false); // reopen as it was, without moving focus on page load
      try {
        // The server asks the current question again; nothing of the conversation was kept here.
        this.receive(await this.request(this.messagesUrl(), { payload: "/resume" }));
      } catch (err) {
        this.fail(err, () => this.resume());
      }
    }
  }

  customElements.define("frontdoor-chat", FrontdoorChat);

  // One instance: in #frontdoor-chat if the page has it, else at the end of <body>.
  function mount() {
    if (document.querySelector("frontdoor-chat")) return;
    (document.getElementById("frontdoor-chat") || document.body).append(document.createElement("frontdoor-chat"));
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
  else mount();
})();
