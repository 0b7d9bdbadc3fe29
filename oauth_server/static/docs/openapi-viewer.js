// A small OpenAPI 3.1 viewer, served by Latchkey itself: no CDN, no inline code, no HTML
// strings (every text goes through textContent, so nothing in the document can inject markup).
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

  function typeCell(schema) {
    // Named schemas link to their description further down the page.
    const refs = [];
    (function collect(s) {
      if (!s) return;
      if (s.$ref) refs.push(refName(s.$ref));
      (s.anyOf || s.oneOf || []).forEach(collect);
      if (s.items) collect(s.items);
    })(schema);
    const cell = el("td", {}, [el("code", {}, [typeOf(schema)])]);
    refs.forEach(function (name) {
      cell.append(" ", el("a", { href: "#schema-" + name }, ["(" + name + ")"]));
    });
    return cell;
  }

  function constraints(schema) {
    const parts = [];
    if (schema.default !== undefined) parts.push("default " + JSON.stringify(schema.default));
    if (schema.minimum !== undefined) parts.push("min " + schema.minimum);
    if (schema.maximum !== undefined) parts.push("max " + schema.maximum);
    if (schema.minLength !== undefined) parts.push("min length " + schema.minLength);
    if (schema.maxLength !== undefined) parts.push("max length " + schema.maxLength);
    return parts.join(", ");
  }

  function propertiesTable(schema) {
    const props = schema.properties || {};
    const required = new Set(schema.required || []);
    const rows = Object.entries(props).map(function ([name, prop]) {
      const notes = [prop.description, constraints(prop)].filter(Boolean).join(". ");
      return el("tr", {}, [
        el("td", {}, [el("code", {}, [name])]),
        typeCell(prop),
        el("td", {}, [required.has(name) ? "required" : "optional"]),
        el("td", {}, inline(notes)),
      ]);
    });
    if (!rows.length) return el("p", { class: "muted" }, ["No fields."]);
    return el("div", { class: "table-wrap" }, [
      el("table", {}, [
        el("thead", {}, [el("tr", {}, ["Field", "Type", "", "Notes"].map(function (h) {
          return el("th", { scope: "col" }, [h]);
        }))]),
        el("tbody", {}, rows),
      ]),
    ]);
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
    const body = el("div", {}, paragraphs(op.description));
    const params = op.parameters || [];
    if (params.length) {
      body.append(el("h4", {}, ["Parameters"]));
      body.append(propertiesTable({
        properties: Object.fromEntries(params.map(function (p) {
          return [p.name, Object.assign({}, p.schema, { description: p.in + (p.description ? ": " + p.description : "") })];
        })),
        required: params.filter(function (p) { return p.required; }).map(function (p) { return p.name; }),
      }));
    }
    if (op.requestBody) {
      const schema = op.requestBody.content["application/json"].schema;
      body.append(el("h4", {}, ["Request body (JSON" + (op.requestBody.required ? "" : ", optional") + ")"]));
      body.append(propertiesTable(resolve(schema, spec)));
    }
    body.append(el("h4", {}, ["Responses"]));
    body.append(el("ul", {}, Object.entries(op.responses || {}).map(function ([code, response]) {
      const content = response.content || {};
      const media = Object.keys(content)[0];
      const item = el("li", {}, [el("strong", {}, [code]), " " + response.description]);
      if (media) item.append(" ", el("code", {}, [typeOf(content[media].schema)]));
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
        el("div", {}, paragraphs(schema.description).concat([propertiesTable(schema)])),
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
