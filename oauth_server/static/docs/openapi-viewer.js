// A small OpenAPI 3.1 viewer, served by Latchkey itself: no CDN, no inline code, no HTML
// strings (every text goes through textContent, so nothing in the document can inject markup).
// Swagger UI needs 'unsafe-inline' styles and 'unsafe-eval', Redoc injects <style> elements
// that only a per-request nonce would let through, and each weighs a megabyte or more; this
// shows what our document holds: every operation, its parameters, its request body's
// fields, its responses.
(function () {
  "use strict";

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(function ([key, value]) {
      if (value !== undefined && value !== null) node.setAttribute(key, value);
    });
    (children || []).forEach(function (child) {
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function refName(ref) {
    return ref.split("/").pop();
  }

  function typeOf(schema) {
    if (!schema) return "any";
    if (schema.$ref) return refName(schema.$ref);
    if (schema.const !== undefined) return JSON.stringify(schema.const);
    if (schema.enum) return schema.enum.map(function (v) { return JSON.stringify(v); }).join(" | ");
    if (schema.anyOf || schema.oneOf) return (schema.anyOf || schema.oneOf).map(typeOf).join(" | ");
    if (schema.type === "array") return "array of " + typeOf(schema.items);
    return schema.type || "object";
  }

  function typeNodes(schema) {
    // The type, with a link to each named schema in it (described further down the page).
    if (schema && schema.$ref) {
      const name = refName(schema.$ref);
      return [el("a", { href: "#schema-" + name }, [el("code", {}, [name])])];
    }
    const refs = [];
    (function collect(s) {
      if (!s) return;
      if (s.$ref) refs.push(refName(s.$ref));
      (s.anyOf || s.oneOf || []).forEach(collect);
      if (s.items) collect(s.items);
    })(schema);
    const nodes = [el("code", {}, [typeOf(schema)])];
    refs.forEach(function (name) {
      nodes.push(" ", el("a", { href: "#schema-" + name }, ["(" + name + ")"]));
    });
    return nodes;
  }

  function typeCell(schema) {
    return el("td", {}, typeNodes(schema));
  }

  function limits(schema) {
    const parts = [];
    if (schema.minimum !== undefined) parts.push("min " + schema.minimum);
    if (schema.maximum !== undefined) parts.push("max " + schema.maximum);
    if (schema.minLength !== undefined) parts.push("min length " + schema.minLength);
    if (schema.maxLength !== undefined) parts.push("max length " + schema.maxLength);
    if (schema.minItems !== undefined) parts.push("at least " + schema.minItems + " items");
    if (schema.maxItems !== undefined) parts.push("at most " + schema.maxItems + " items");
    if (schema.format) parts.push("format " + schema.format);
    return parts;
  }

  function notes(schema) {
    // A nullable field is `anyOf: [<the value>, null]`: its value's own description and
    // limits sit inside that branch, and say as much as the field's.
    const parts = [schema.description];
    (schema.anyOf || schema.oneOf || []).forEach(function (branch) {
      if (branch.type === "null") return;
      if (branch.description) parts.push(branch.description);
      parts.push.apply(parts, limits(branch));
    });
    parts.push.apply(parts, limits(schema));
    if (schema.items) parts.push.apply(parts, limits(schema.items).map(function (l) { return "each " + l; }));
    if (schema.default !== undefined) parts.push("default " + JSON.stringify(schema.default));
    return parts.filter(Boolean).join("; ");
  }

  function propertiesTable(schema, caption) {
    const props = schema.properties || {};
    const required = new Set(schema.required || []);
    const rows = Object.entries(props).map(function ([name, prop]) {
      return el("tr", {}, [
        el("td", {}, [el("code", {}, [name])]),
        typeCell(prop),
        el("td", {}, [required.has(name) ? "required" : "optional"]),
        el("td", {}, inline(notes(prop))),
      ]);
    });
    if (!rows.length) return el("p", { class: "muted" }, ["No fields."]);
    const table = el("div", { class: "table-wrap" }, [
      el("table", {}, [
        el("caption", { class: "visually-hidden" }, [caption]),
        el("thead", {}, [el("tr", {}, ["Field", "Type", "Required", "Notes"].map(function (h) {
          return el("th", { scope: "col" }, [h]);
        }))]),
        el("tbody", {}, rows),
      ]),
    ]);
    if (schema.additionalProperties === false) {
      return el("div", {}, [table, el("p", { class: "small muted" }, ["No other fields are accepted."])]);
    }
    return table;
  }


  function inline(text) {
    // Docstrings mark code with `x` or ``x``: show it as code, the rest as plain text.
    return text.split(/``?([^`]+)``?/).map(function (part, i) {
      return i % 2 ? el("code", {}, [part]) : part;
    });
  }

  function paragraphs(text) {
    return (text || "").split(/\n\s*\n/).filter(Boolean).map(function (p) {
      return el("p", {}, inline(p.trim()));
    });
  }

  function operation(method, path, op, spec) {
    const title = method.toUpperCase() + " " + path;
    const body = el("div", {}, paragraphs(op.description));
    const params = op.parameters || [];
    if (params.length) {
      body.append(el("h4", {}, ["Parameters"]));
      body.append(propertiesTable({
        properties: Object.fromEntries(params.map(function (p) {
          const where = p.in === "path" ? "in the path" : "in the " + p.in + " string";
          return [p.name, Object.assign({}, p.schema, { description: where + (p.description ? ": " + p.description : "") })];
        })),
        required: params.filter(function (p) { return p.required; }).map(function (p) { return p.name; }),
      }, "Parameters of " + title));
    }
    if (op.requestBody) {
      Object.entries(op.requestBody.content || {}).forEach(function ([media, content]) {
        const name = content.schema && content.schema.$ref ? refName(content.schema.$ref) : null;
        const head = el("h4", {}, ["Request body (" + media + (op.requestBody.required ? "" : ", optional") + ")"]);
        if (name) head.append(" ", el("a", { href: "#schema-" + name }, [name]));
        body.append(head, propertiesTable(resolve(content.schema, spec), "Request body of " + title));
      });
    }
    body.append(el("h4", {}, ["Responses"]));
    body.append(el("ul", { class: "responses" }, Object.entries(op.responses || {}).map(function ([code, response]) {
      const item = el("li", { "data-status": code }, [el("strong", {}, [code]), " "].concat(inline(response.description || "")));
      Object.entries(response.content || {}).forEach(function ([media, content]) {
        item.append(" · ", el("span", { class: "muted" }, [media]), " ");
        item.append.apply(item, typeNodes(content.schema));
      });
      return item;
    })));
    return el("details", { class: "op", id: "op-" + op.operationId }, [
      el("summary", {}, [
        el("span", { class: "method method-" + method }, [method.toUpperCase()]),
        el("code", {}, [path]),
        el("span", {}, [op.summary || ""]),
      ]),
      body,
    ]);
  }

  function resolve(schema, spec) {
    if (schema && schema.$ref) return spec.components.schemas[refName(schema.$ref)] || {};
    return schema || {};
  }

  function render(spec, root) {
    const nav = root.querySelector(".docs-nav");
    const main = root.querySelector(".docs-body");
    nav.replaceChildren();
    main.replaceChildren();
    const byTag = new Map();
    Object.entries(spec.paths || {}).forEach(function ([path, methods]) {
      Object.entries(methods).forEach(function ([method, op]) {
        const tag = (op.tags || ["Other"])[0];
        if (!byTag.has(tag)) byTag.set(tag, []);
        byTag.get(tag).push([method, path, op]);
      });
    });
    const links = [];
    byTag.forEach(function (ops, tag) {
      const id = "tag-" + tag.toLowerCase().replace(/[^a-z0-9]+/g, "-");
      links.push(el("li", {}, [el("a", { href: "#" + id }, [tag])]));
      const section = el("section", { id: id, "aria-labelledby": id + "-title" }, [
        el("h2", { id: id + "-title" }, [tag]),
      ]);
      ops.forEach(function ([method, path, op]) {
        section.append(operation(method, path, op, spec));
      });
      main.append(section);
    });
    links.push(el("li", {}, [el("a", { href: "#schemas" }, ["Schemas"])]));
    nav.append(el("h2", { class: "visually-hidden" }, ["Sections"]), el("ul", {}, links));

    const schemas = el("section", { id: "schemas", "aria-labelledby": "schemas-title" }, [
      el("h2", { id: "schemas-title" }, ["Schemas"]),
    ]);
    Object.entries(spec.components.schemas || {}).forEach(function ([name, schema]) {
      schemas.append(el("details", { class: "op", id: "schema-" + name }, [
        el("summary", {}, [el("code", {}, [name])]),
        el("div", {}, paragraphs(schema.description).concat([propertiesTable(schema, "Fields of " + name)])),
      ]));
    });
    main.append(schemas);
    if (location.hash) {
      const target = document.getElementById(location.hash.slice(1));
      if (target && target.tagName === "DETAILS") target.open = true;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    const root = document.getElementById("openapi");
    if (!root) return;
    fetch(root.getAttribute("data-spec"), { headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (spec) { render(spec, root); })
      .catch(function (error) {
        root.querySelector(".docs-body").replaceChildren(
          el("p", { class: "flash flash-error" }, ["Could not load the API description: " + error.message])
        );
      });
  });
})();
